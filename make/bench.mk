# Benchmark targets (included by the root Makefile). See docs/performance.md.
#
# `make bench` starts its own task-api, gateway and processors (settings of
# .env.dev) on a database and queue namespace of its own, measures the limits
# of PostgreSQL and RabbitMQ on this machine and then the system, prints one
# table and writes bench/results/<time>-<commit>.json and latest.json.
# Knobs are BENCH_* variables (bench/lib/settings.ts), e.g.
#   make bench BENCH_RUNS=1 BENCH_CREATE_COUNT=5000       a quicker, rougher run
#   make bench BENCH_PHASES=limits,create                 some phases only
#   make bench BENCH_TARGET=http://127.0.0.1:50051 BENCH_GATEWAY_URL=http://127.0.0.1:8080 \
#     BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/taskproc BENCH_PHASES=create,e2e
#                                                         measure a running system (make start)

.PHONY: bench bench-profile bench-typecheck

BENCH_RUN := $(TSX) bench/run.ts

bench: $(NPM_STAMP) ## measure throughput, latency and cost against PostgreSQL's and RabbitMQ's limits (< 10 min)
	@scripts/ensure-services.sh >/dev/null
	$(BENCH_RUN)

bench-profile: $(NPM_STAMP) ## `make bench` with every service under node --cpu-prof (profiles in .run/bench/profiles)
	@mkdir -p .run/bench/profiles
	BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=$(CURDIR)/.run/bench/profiles" $(BENCH_RUN)

bench-typecheck: $(NPM_STAMP) ## type-check the benchmark
	npx tsc -p bench/tsconfig.json

.PHONY: bench-telemetry
bench-telemetry: $(NPM_STAMP) ## what tracing costs per task: the system end to end with tracing off, then on (OTLP to a local receiver)
	@scripts/ensure-services.sh >/dev/null
	BENCH_PHASES=telemetry $(BENCH_RUN)
