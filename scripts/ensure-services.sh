#!/usr/bin/env bash
# Makes sure the PostgreSQL and RabbitMQ this project needs are reachable,
# starting the local installations when they are not (as on the development
# and CI machines). Exits non-zero, saying how to start them, if that fails.
set -euo pipefail

reachable() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_for() { # name host port seconds
  local deadline=$((SECONDS + $4))
  until reachable "$2" "$3"; do
    if ((SECONDS >= deadline)); then
      echo "error: $1 is not reachable at $2:$3" >&2
      return 1
    fi
    sleep 1
  done
}

if ! reachable 127.0.0.1 5432; then
  if command -v pg_ctlcluster >/dev/null; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  wait_for PostgreSQL 127.0.0.1 5432 60 || {
    echo "start it with: pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start" >&2
    exit 1
  }
fi

if ! reachable 127.0.0.1 5672; then
  if command -v rabbitmq-server >/dev/null; then
    echo "starting RabbitMQ"
    rabbitmq-server -detached || true
  fi
  wait_for RabbitMQ 127.0.0.1 5672 120 || {
    echo "start it with: rabbitmq-server -detached" >&2
    exit 1
  }
fi
