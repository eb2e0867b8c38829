#!/usr/bin/env bash
# `make stop`: SIGTERM to every process `make start` started (each shuts down
# gracefully), SIGKILL to any still alive after 20 seconds.
set -uo pipefail
cd "$(dirname "$0")/.."
PIDS_DIR=.run/pids
compgen -G "$PIDS_DIR/*.pid" >/dev/null || { echo "nothing to stop"; exit 0; }

for pidfile in "$PIDS_DIR"/*.pid; do
  kill -TERM "$(cat "$pidfile")" 2>/dev/null && echo "stopping $(basename "$pidfile" .pid)"
done
deadline=$((SECONDS + 20))
for pidfile in "$PIDS_DIR"/*.pid; do
  pid=$(cat "$pidfile")
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "$(basename "$pidfile" .pid) did not stop in time; killing it" >&2
    kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$pidfile"
done
echo "stopped"
