#!/usr/bin/env bash
# `make status`: which of the processes `make start` started are alive.
cd "$(dirname "$0")/.."
compgen -G ".run/pids/*.pid" >/dev/null || { echo "not running"; exit 0; }
for pidfile in .run/pids/*.pid; do
  name=$(basename "$pidfile" .pid)
  if kill -0 "$(cat "$pidfile")" 2>/dev/null; then echo "$name: running (pid $(cat "$pidfile"))"; else echo "$name: dead"; fi
done
