# taskproc: `make start` runs the whole system locally, `make test` tests it.
# `make start AUTH_MODE=jwt` runs it with authentication on (docs/security.md).
# Area-specific targets live in make/*.mk (docker, sdk, faults, bench).

SHELL := /bin/bash
.DEFAULT_GOAL := help
export NODE_OPTIONS ?=

# Every target runs on Node.js 22+ (24 LTS is the one the project is built and
# tested on): where the PATH has an older node, scripts/provision-node.sh
# unpacks Node.js 24 from the npm registry into .tools/ once, and it goes first
# on the PATH of every recipe (npm included, which runs on it).
NODE_BIN := $(shell scripts/provision-node.sh)
ifneq ($(.SHELLSTATUS),0)
$(error could not provision Node.js 24 (see the message above); install Node.js 22+ and retry)
endif
ifneq ($(NODE_BIN),)
export PATH := $(NODE_BIN):$(PATH)
endif

NPM_STAMP := node_modules/.install-stamp
GENERATED := packages/contract/src/gen/taskproc/v1/task_pb.ts packages/contract/descriptor.binpb
TSX := node --conditions=development --import tsx

node-version: ## print the Node.js version every target runs on
	@node --version

.PHONY: node-version help install toolchains services generate check-generated lint build start stop restart status logs test migrate dead-letters

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: $(NPM_STAMP) ## install dependencies (npm ci) if package files changed

toolchains: ## install the Debian packages the SDK and gateway proofs need, if missing
	scripts/install-toolchains.sh

services: ## start the local PostgreSQL and RabbitMQ if they are not running
	scripts/ensure-services.sh

generate: $(NPM_STAMP) ## regenerate TypeScript and the descriptor set from proto/
	npx buf generate
	npx buf build --as-file-descriptor-set -o packages/contract/descriptor.binpb

check-generated: generate ## fail if generated code differs from what is committed
	@git diff --exit-code --stat -- packages/contract/src/gen packages/contract/descriptor.binpb \
	  || { echo "generated code is stale: run 'make generate' and commit the result"; exit 1; }
	@test -z "$$(git status --porcelain -- packages/contract/src/gen)" \
	  || { echo "generated files are not committed: run 'make generate' and commit the result"; exit 1; }

lint: $(NPM_STAMP) ## buf lint and the TypeScript type check of sources and tests
	npx buf lint
	npx tsc -b
	npx tsc -p tsconfig.test.json
	npx tsc -p dashboard/tsconfig.json

build: $(NPM_STAMP) generate ## compile every workspace to dist/
	npx tsc -b

migrate: $(NPM_STAMP) ## apply database migrations (creates the database if missing)
	set -a; . ./.env.dev; set +a; $(TSX) packages/core/src/db/migrate-main.ts

dead-letters: $(NPM_STAMP) ## list the dead-letter queue's messages and why each was set aside (leaves them there)
	set -a; . ./.env.dev; set +a; $(TSX) scripts/dead-letters.ts

start: $(NPM_STAMP) generate ## start task-api, processor(s) and gateway in the background, wait until healthy (AUTH_MODE=jwt: with authentication, a local key in .run/auth)
	scripts/start-local.sh

stop: ## stop what `make start` started
	scripts/stop-local.sh

restart: stop start ## stop, then start

status: ## show which local services run
	@scripts/status-local.sh

logs: ## follow the logs of the local services
	@tail -n 50 -F .run/logs/*.log

test: $(NPM_STAMP) toolchains services check-generated check-sdk lint ## lint, drift checks, type-check, and every test against local PostgreSQL and RabbitMQ
	npx vitest run

-include make/*.mk
