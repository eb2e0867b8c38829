#!/usr/bin/env bash
# `make start`: runs task-api, PROCESSOR_REPLICAS processors and the embedded
# REST gateway in the background with the settings of .env.dev (or ENV_FILE),
# waits until they are healthy and prints their addresses. Logs go to
# .run/logs, process ids to .run/pids; `make stop` stops them.
#
# Authentication is off unless asked for (`make start AUTH_MODE=jwt`): then a
# local signing key pair is made in .run/auth (once; `npx taskctl token`
# signs with it) and task-api verifies tokens against its jwks.json.
set -euo pipefail
cd "$(dirname "$0")/.."

ENV_FILE=${ENV_FILE:-./.env.dev}
# The handler is chosen per start (TASK_HANDLER=examples/handlers/... make
# start): a value from the caller's environment wins over the file's.
CALLER_TASK_HANDLER=${TASK_HANDLER-}
# So is authentication (make start AUTH_MODE=jwt), and its settings.
declare -A CALLER_AUTH=()
for name in AUTH_MODE AUTH_JWKS_FILE AUTH_JWKS_URL AUTH_ISSUER AUTH_AUDIENCE AUTH_TENANT_CLAIM; do
  if [[ -n ${!name-} ]]; then CALLER_AUTH[$name]=${!name}; fi
done
set -a
# shellcheck disable=SC1090
. "$ENV_FILE"
set +a
if [[ -n $CALLER_TASK_HANDLER ]]; then export TASK_HANDLER=$CALLER_TASK_HANDLER; fi
for name in "${!CALLER_AUTH[@]}"; do export "$name=${CALLER_AUTH[$name]}"; done

RUN_DIR=.run
mkdir -p "$RUN_DIR/logs" "$RUN_DIR/pids"
NODE="node --conditions=development --import tsx"

if compgen -G "$RUN_DIR/pids/*.pid" >/dev/null; then
  for pidfile in "$RUN_DIR"/pids/*.pid; do
    if kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "already running ($(basename "$pidfile" .pid) and others); use 'make stop' or 'make restart'" >&2
      exit 1
    fi
  done
  rm -f "$RUN_DIR"/pids/*.pid
fi

AUTH_MODE=${AUTH_MODE:-none}
AUTH_DIR=.run/auth
case $AUTH_MODE in
  none) ;;
  jwt)
    # An identity provider's JWKS URL given by the caller replaces the local file.
    if [[ -n ${CALLER_AUTH[AUTH_JWKS_URL]-} && -z ${CALLER_AUTH[AUTH_JWKS_FILE]-} ]]; then unset AUTH_JWKS_FILE; fi
    # The local key pair (.env.dev's default): made once, kept across starts.
    if [[ ${AUTH_JWKS_FILE-} == "$AUTH_DIR/jwks.json" ]]; then
      $NODE sdk/typescript/src/cli/main.ts keys init --key-dir "$AUTH_DIR" | sed 's/^/auth: /'
      export AUTH_JWKS_FILE=$PWD/$AUTH_DIR/jwks.json
    fi
    ;;
  *)
    echo "error: AUTH_MODE must be none or jwt, not \"$AUTH_MODE\"" >&2
    exit 2
    ;;
esac
export AUTH_MODE

scripts/ensure-services.sh

echo "migrating $DATABASE_URL"
$NODE packages/core/src/db/migrate-main.ts

launch() { # name entry
  local name=$1 entry=$2
  # A fresh log per start: the readiness checks below read it.
  nohup setsid $NODE "$entry" >"$RUN_DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/pids/$name.pid"
}

launch task-api services/task-api/src/main.ts
PROCESSOR_METRICS_BASE=${PROCESSOR_METRICS_PORT:-9470}
for i in $(seq 1 "${PROCESSOR_REPLICAS:-1}"); do
  # One metrics port per replica: PROCESSOR_METRICS_PORT, +1, +2, ...
  PROCESSOR_METRICS_PORT=$((PROCESSOR_METRICS_BASE + i - 1)) launch "processor-$i" services/processor/src/main.ts
done
launch gateway gateway/src/main.ts

alive_or_fail() {
  local name=$1
  if ! kill -0 "$(cat "$RUN_DIR/pids/$name.pid")" 2>/dev/null; then
    echo "error: $name exited; last lines of $RUN_DIR/logs/$name.log:" >&2
    tail -n 20 "$RUN_DIR/logs/$name.log" >&2
    scripts/stop-local.sh >/dev/null
    exit 1
  fi
}

# On a timeout, $WHY_NOT (if set) is run to show the reason.
wait_until() { # description seconds command...
  local description=$1 deadline=$((SECONDS + $2))
  shift 2
  until "$@" >/dev/null 2>&1; do
    for pidfile in "$RUN_DIR"/pids/*.pid; do alive_or_fail "$(basename "$pidfile" .pid)"; done
    if ((SECONDS >= deadline)); then
      echo "error: timed out waiting for $description" >&2
      if [[ -n ${WHY_NOT:-} ]]; then bash -c "$WHY_NOT" >&2 || true; fi
      scripts/stop-local.sh >/dev/null
      exit 1
    fi
    sleep 0.5
  done
}

API="http://127.0.0.1:$TASK_API_PORT"
GATEWAY="http://127.0.0.1:$GATEWAY_PORT"
# Readiness, not just liveness: SERVING means the database answers and the
# outbox relay can publish (it has declared its queues on RabbitMQ). A
# topology mismatch (e.g. another QUEUE_DELIVERY_LIMIT) keeps it NOT_SERVING.
WHY_NOT="grep -E 'not ready|cannot publish' $RUN_DIR/logs/task-api.log | tail -n 3" \
  wait_until "task-api readiness (grpc.health.v1 SERVING)" 60 bash -c "curl -fsS -X POST -H 'content-type: application/json' -d '{}' $API/grpc.health.v1.Health/Check | grep -q '\"SERVING\"'"
for i in $(seq 1 "${PROCESSOR_REPLICAS:-1}"); do
  wait_until "processor-$i to consume" 60 grep -q '"consuming tasks"' "$RUN_DIR/logs/processor-$i.log"
done
wait_until "gateway health" 60 curl -fsS "$GATEWAY/health"

if [[ $AUTH_MODE == jwt ]]; then
  BEARER=' -H "authorization: Bearer $TASKCTL_TOKEN"'
else
  BEARER=''
fi
cat <<INFO
taskproc is running (logs: make logs, stop: make stop)
  REST gateway     $GATEWAY        e.g. curl -i -X POST$BEARER $GATEWAY/task -d '{"content":"hi"}'
  dashboard        $GATEWAY/ui/    live tasks, counts and actions (make dashboard builds it)
  task-api         $API       gRPC (h2c), gRPC-Web and Connect; health and reflection
  processors       ${PROCESSOR_REPLICAS:-1} x prefetch ${PROCESSOR_PREFETCH:-100}, handler ${TASK_HANDLER:-default (wait ${PROCESSING_DURATION_MS:-3000} ms per task)}
  metrics          task-api http://${TASK_API_METRICS_HOST:-127.0.0.1}:${TASK_API_METRICS_PORT:-9461}/metrics, gateway http://${GATEWAY_METRICS_HOST:-127.0.0.1}:${GATEWAY_METRICS_PORT:-9462}/metrics
INFO
for i in $(seq 1 "${PROCESSOR_REPLICAS:-1}"); do
  echo "                   processor-$i http://${PROCESSOR_METRICS_HOST:-127.0.0.1}:$((PROCESSOR_METRICS_BASE + i - 1))/metrics"
done
if [[ -n "${OTEL_EXPORTER_OTLP_ENDPOINT:-}${OTEL_EXPORTER_OTLP_TRACES_ENDPOINT:-}" ]]; then
  echo "  traces           exported over OTLP to ${OTEL_EXPORTER_OTLP_TRACES_ENDPOINT:-$OTEL_EXPORTER_OTLP_ENDPOINT}"
fi
if [[ $AUTH_MODE == jwt ]]; then
  cat <<AUTH
  authentication   ON (AUTH_MODE=jwt): every call but health needs a bearer token (docs/security.md)
                   issuer ${AUTH_ISSUER-}, audience ${AUTH_AUDIENCE-}, keys ${AUTH_JWKS_FILE:-$AUTH_JWKS_URL}
    a token:       npx taskctl token --tenant acme          (--ttl 8h; each tenant sees only its own tasks)
    for taskctl:   export TASKCTL_TOKEN=\$(npx taskctl token --tenant acme)
    dashboard:     paste a token into "API token" at the top of the page
AUTH
else
  cat <<AUTH
  authentication   OFF: anyone who can reach these loopback ports may use them, and every
                   request belongs to tenant "default" (make start AUTH_MODE=jwt turns it on)
AUTH
fi
