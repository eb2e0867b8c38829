# Dashboard targets (included by the root Makefile): the web UI in dashboard/,
# served by `make start` at http://127.0.0.1:8080/ui/ (docs/dashboard.md).

.PHONY: dashboard dashboard-dev dashboard-test dashboard-e2e

# Rebuilt only when what it is built from changed: its sources, the proto
# contract its client code comes from, and the lockfile.
DASHBOARD_STAMP := dashboard/dist/.build-stamp
DASHBOARD_SOURCES := $(shell find dashboard/src -type f 2>/dev/null) dashboard/index.html dashboard/vite.config.ts \
  dashboard/package.json $(shell find proto -name '*.proto' 2>/dev/null) package-lock.json

$(DASHBOARD_STAMP): $(NPM_STAMP) $(DASHBOARD_SOURCES)
	npm run build --silent -w @taskproc/dashboard
	@touch $@

dashboard: $(DASHBOARD_STAMP) ## build the dashboard into dashboard/dist if its sources changed

# make start serves the current build.
start: $(DASHBOARD_STAMP)

dashboard-dev: $(NPM_STAMP) ## Vite's dev server for the dashboard (hot reload), against a running `make start`
	npm run dev -w @taskproc/dashboard

dashboard-test: $(NPM_STAMP) ## the dashboard's component and logic tests
	npx vitest run dashboard/test/*.test.ts dashboard/test/*.test.tsx

dashboard-e2e: $(NPM_STAMP) toolchains services ## the dashboard end to end in headless Chromium (screenshots in test-artifacts/dashboard)
	npx vitest run dashboard/test/e2e
