#!/usr/bin/env bash
# The Redis the BullMQ peer runs on (BENCH_REDIS_URL, default 127.0.0.1:6379).
# When none answers there, starts the local redis-server without persistence
# (no RDB snapshots, no append-only file), the setting the bench reports.
set -euo pipefail

url=${BENCH_REDIS_URL:-redis://127.0.0.1:6379}
hostport=${url#redis://}
host=${hostport%:*}
port=${hostport##*:}
reachable() { (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }

if ! reachable; then
  echo "starting redis-server on $host:$port (no persistence)"
  redis-server --bind "$host" --port "$port" --save '' --appendonly no --daemonize yes >/dev/null
  for _ in $(seq 1 30); do reachable && exit 0; sleep 1; done
  echo "error: Redis is not reachable at $host:$port" >&2
  exit 1
fi
