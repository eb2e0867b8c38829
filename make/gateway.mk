# Gateway targets (included by the root Makefile).

.PHONY: gateway-test gateway-lua-test gateway-envoy-check gateway-start gateway-typecheck

gateway-lua-test: ## run the Envoy Lua REST shape rule under luajit against the shared fixtures
	luajit gateway/test/lua/run_fixtures.lua .

gateway-envoy-check: $(NPM_STAMP) ## parse gateway/envoy.yaml strictly against Envoy's schema, check it against proto/
	npx vitest run gateway/test/envoy-config.test.ts

gateway-test: $(NPM_STAMP) ## every gateway test (Lua rule, envoy.yaml, embedded gateway) and the REST contract suite
	npx vitest run gateway/test test/rest-contract.test.ts

gateway-typecheck: $(NPM_STAMP) ## type-check the gateway and its tests
	npx tsc -p gateway/test/tsconfig.json

gateway-start: $(NPM_STAMP) ## run only the embedded REST gateway in the foreground (task-api must be running)
	set -a; . ./.env.dev; set +a; $(TSX) gateway/src/main.ts
