# Processor targets (included by the root Makefile). `make start` runs
# PROCESSOR_REPLICAS processors; these run or test one on its own.

.PHONY: processor-start processor-test processor-typecheck

processor-start: $(NPM_STAMP) ## run one processor in the foreground with .env.dev (task-api or `make migrate` must have migrated the database)
	set -a; . ./.env.dev; set +a; $(TSX) services/processor/src/main.ts

processor-test: $(NPM_STAMP) ## the processor's tests (real PostgreSQL and RabbitMQ); prints the cancel-to-abort p50/p99
	npx vitest run services/processor

processor-typecheck: $(NPM_STAMP) ## type-check the processor and its tests
	npx tsc -b services/processor
	npx tsc -p services/processor/test/tsconfig.json
