# Docker targets (included by the root Makefile): the whole system in
# containers, see docs/docker.md. They need Docker Engine with the compose
# plugin; the local targets (make start, make test) do not.
# `make docker-check` runs the offline checks of these files without Docker.

COMPOSE ?= docker compose
DOCKER_PROJECT ?= taskproc
DOCKER_TEST_PROJECT ?= taskproc-test
# The throw-away test stack publishes its own host ports, so it can run next
# to a stack started with `make docker-up`.
DOCKER_TEST_ENV ?= TASKPROC_HTTP_PORT=18080 TASKPROC_HTTPS_PORT=18443 RABBITMQ_UI_PORT=25672
# Envoy runs as you, the owner of the TLS key `make certs` made (0600).
DOCKER_USER_ENV := ENVOY_UID=$(shell id -u) ENVOY_GID=$(shell id -g)
DOCKER_STACK := $(DOCKER_USER_ENV) $(COMPOSE) -p $(DOCKER_PROJECT) -f docker-compose.yml
DOCKER_TEST_STACK := $(DOCKER_USER_ENV) $(DOCKER_TEST_ENV) $(COMPOSE) -p $(DOCKER_TEST_PROJECT) -f docker-compose.yml -f docker-compose.test.yml

.PHONY: docker-build docker-up docker-up-telemetry docker-down docker-test docker-logs docker-ps docker-config docker-check docker-token

docker-build: ## build the images: taskproc (task-api, processor, migrate), taskproc-envoy, taskproc-test
	$(DOCKER_TEST_STACK) build

docker-up: certs ## start the stack in containers and wait until every service is healthy (REST on :8080, HTTPS on :8443)
	$(DOCKER_STACK) up -d --build --wait
	@echo "authentication is on: get a token with  make docker-token TENANT=<name>"

docker-token: ## print a bearer token for TENANT (default: default) signed with the stack's development key
	@$(DOCKER_STACK) run --rm --no-deps auth-keys token --tenant $(or $(TENANT),default)

docker-down: ## stop and remove the containers; data volumes stay (add DOCKER_DOWN_FLAGS=-v to drop them)
	$(DOCKER_STACK) down --remove-orphans $(DOCKER_DOWN_FLAGS)

docker-logs: ## follow the logs of the stack
	$(DOCKER_STACK) logs -f --tail=100

docker-ps: ## show the containers of the stack and their health
	$(DOCKER_STACK) ps

docker-test: certs ## run the REST contract suite against Envoy in a throw-away stack, then remove it
	$(DOCKER_TEST_STACK) build
	$(DOCKER_TEST_STACK) run --rm rest-contract; \
	  status=$$?; \
	  $(DOCKER_TEST_STACK) down -v --remove-orphans; \
	  exit $$status

docker-config: ## let docker compose itself validate both compose files (COMPOSE=docker-compose for v1)
	$(DOCKER_TEST_STACK) config --quiet && echo "compose files are valid"

docker-check: $(NPM_STAMP) ## offline checks of the Docker files (also part of make test)
	npx vitest run test/deployment.test.ts test/deployment-probes.test.ts test/deployment-certs.test.ts

docker-up-telemetry: certs ## docker-up plus Prometheus (127.0.0.1:9090) and Jaeger (127.0.0.1:16686), with traces exported to Jaeger
	COMPOSE_PROFILES=telemetry OTEL_EXPORTER_OTLP_ENDPOINT=http://jaeger:4318 $(DOCKER_STACK) up -d --build --wait
