# Benchmark targets (included by the root Makefile). See docs/performance.md.
#
# `make bench` starts its own task-api, gateway and processors (settings of
# .env.dev) on a database and queue namespace of its own, from the compiled
# build as the runtime image runs them (it runs `make build` first;
# BENCH_FROM=source: the sources under tsx, as `make start`), measures the limits
# of PostgreSQL and RabbitMQ and the peers (BullMQ on Redis, pg-boss on
# PostgreSQL) on this machine, then the system, driven by the Node.js client
# and by C load generators (h2load, wrk); prints the figures, the CPU ledger
# and the performance goals from that one run, and writes
# bench/results/<time>-<commit>.json and latest.json.
# Knobs are BENCH_* variables (bench/lib/settings.ts), e.g.
#   make bench BENCH_RUNS=1 BENCH_CREATE_COUNT=5000       a quicker, rougher run
#   make bench BENCH_PHASES=limits,peers,cload            some phases only
#   make bench BENCH_FROM=source                          the services from their sources under tsx
#   make bench BENCH_TARGET=http://127.0.0.1:50051 BENCH_GATEWAY_URL=http://127.0.0.1:8080 \
#     BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/taskproc BENCH_PHASES=create,e2e
#                                                         measure a running system (make start)
#
# The peers' dependencies live in bench/peers (own package.json and
# package-lock.json, outside the root workspace and its lockfile); they are
# installed here when their lockfile is newer than the stamp.

.PHONY: bench bench-profile bench-typecheck bench-tools

BENCH_RUN := $(TSX) bench/run.ts
# What the services the bench starts run: dist/ of every workspace, built
# here, unless BENCH_FROM=source (then nothing to build).
BENCH_BUILD := $(if $(filter source,$(BENCH_FROM)),,build)
BENCH_PEERS_STAMP := bench/peers/node_modules/.install-stamp

$(BENCH_PEERS_STAMP): bench/peers/package.json bench/peers/package-lock.json
	npm ci --prefix bench/peers --no-audit --no-fund
	@touch $@

bench-tools: ## install the C load generators (h2load, wrk) and redis-server if missing
	@bench/install-tools.sh

bench: $(NPM_STAMP) $(BENCH_BUILD) $(BENCH_PEERS_STAMP) bench-tools ## measure throughput, latency and CPU per task against the limits and the peers (BullMQ, pg-boss) (< 12 min)
	@scripts/ensure-services.sh >/dev/null
	@bench/ensure-redis.sh
	$(BENCH_RUN)

bench-profile: $(NPM_STAMP) $(BENCH_BUILD) $(BENCH_PEERS_STAMP) bench-tools ## `make bench` with every service under node --cpu-prof (profiles in .run/bench/profiles)
	@scripts/ensure-services.sh >/dev/null
	@bench/ensure-redis.sh
	@mkdir -p .run/bench/profiles
	BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=$(CURDIR)/.run/bench/profiles" $(BENCH_RUN)

bench-typecheck: $(NPM_STAMP) $(BENCH_PEERS_STAMP) ## type-check the benchmark (and the peers' scripts)
	npx tsc -p bench/tsconfig.json

.PHONY: bench-telemetry
bench-telemetry: $(NPM_STAMP) $(BENCH_BUILD) ## what tracing costs per task: the system end to end with tracing off, then on (OTLP to a local receiver)
	@scripts/ensure-services.sh >/dev/null
	BENCH_PHASES=telemetry $(BENCH_RUN)
