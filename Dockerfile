# syntax=docker/dockerfile:1
#
# Images of taskproc, built from one context (the repository root):
#
#   runtime  task-api, processor, the migrate step and taskctl (the
#            auth-keys step; the command is set by docker-compose.yml),
#            compiled JavaScript and production dependencies only, running
#            as the unprivileged "node" user.
#   envoy    the official Envoy image plus the protobuf descriptor set its
#            gRPC-JSON transcoder reads; envoy.yaml and the Lua scripts are
#            mounted by docker-compose.yml.
#   dashboard  nginx (unprivileged) with the built dashboard under /ui/,
#            behind Envoy's /ui route.
#   test     the build stage with dev dependencies and the test suites, for
#            docker-compose.test.yml.
#
# Node.js: an LTS line in support (24 "Krypton", maintained until April 2028).
ARG NODE_IMAGE=node:24-bookworm-slim
ARG ENVOY_IMAGE=envoyproxy/envoy:v1.39.6
ARG NGINX_IMAGE=nginxinc/nginx-unprivileged:1.28-alpine

# --- deps: every dependency, from the lockfile only ------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
# Manifests first, so editing source does not invalidate the npm ci layer.
COPY package.json package-lock.json ./
COPY packages/contract/package.json packages/contract/
COPY packages/core/package.json packages/core/
COPY packages/handler/package.json packages/handler/
COPY services/task-api/package.json services/task-api/
COPY services/processor/package.json services/processor/
COPY gateway/package.json gateway/
# npm links the taskctl bin of this workspace, so the file must be there.
COPY sdk/typescript/package.json sdk/typescript/
COPY sdk/typescript/bin sdk/typescript/bin
COPY dashboard/package.json dashboard/
RUN --mount=type=cache,target=/root/.npm npm ci

# --- build: generated code, descriptor set, compiled workspaces ------------
FROM deps AS build
COPY buf.yaml buf.gen.yaml tsconfig.base.json tsconfig.json ./
COPY proto proto
COPY third_party third_party
COPY packages packages
COPY services services
COPY gateway gateway
# The TypeScript client is a workspace `tsc -b` compiles; the Python and Go
# SDKs are not needed here.
COPY sdk/typescript sdk/typescript
COPY dashboard dashboard
# Regenerated from proto/ rather than trusted from the context: the image is
# then right by construction even when someone forgot `make generate`.
RUN npx buf generate \
 && npx buf build --as-file-descriptor-set -o packages/contract/descriptor.binpb \
 && npx tsc -b \
 && npm run build -w @taskproc/dashboard

# --- test: the suites run by docker-compose.test.yml -----------------------
FROM build AS test
COPY vitest.config.ts .env.test ./
COPY test test
# Vite writes its config bundle and vitest its results cache under
# node_modules; the rest stays read-only to the test user.
RUN mkdir -p node_modules/.vite node_modules/.vite-temp \
 && chown node:node node_modules/.vite node_modules/.vite-temp
USER node
CMD ["npx", "vitest", "run"]

# --- prod-deps: the build without dev dependencies -------------------------
FROM build AS prod-deps
RUN npm prune --omit=dev

# --- envoy: the gateway --------------------------------------------------------
FROM ${ENVOY_IMAGE} AS envoy
# Same bytes as packages/contract/descriptor.binpb; path agreed with gateway/envoy.yaml.
COPY --from=build /app/packages/contract/descriptor.binpb /etc/envoy/taskproc.binpb

# --- dashboard: the web UI's static files -----------------------------------
FROM ${NGINX_IMAGE} AS dashboard
COPY deploy/dashboard/nginx.conf /etc/nginx/conf.d/default.conf
COPY --from=build /app/dashboard/dist /usr/share/nginx/html/ui
EXPOSE 8080

# --- runtime: task-api, processor, migrate (last, so the default target) -----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
# V8 heap bounds of every service process, as NODE_OPTIONS in .env.dev.
ENV NODE_OPTIONS="--max-old-space-size=160 --max-semi-space-size=32"
WORKDIR /app
# Owned by root and not writable by the service user: the code cannot be
# changed by the process that runs it.
COPY --from=prod-deps /app/package.json ./
# node_modules/@taskproc/* are workspace symlinks to the folders below.
COPY --from=prod-deps /app/node_modules node_modules
COPY --from=prod-deps /app/packages/contract/package.json /app/packages/contract/descriptor.binpb packages/contract/
COPY --from=prod-deps /app/packages/contract/dist packages/contract/dist
COPY --from=prod-deps /app/packages/core/package.json packages/core/
COPY --from=prod-deps /app/packages/core/dist packages/core/dist
COPY --from=prod-deps /app/packages/handler/package.json packages/handler/
COPY --from=prod-deps /app/packages/handler/dist packages/handler/dist
COPY --from=prod-deps /app/services/task-api/package.json services/task-api/
COPY --from=prod-deps /app/services/task-api/dist services/task-api/dist
COPY --from=prod-deps /app/services/processor/package.json services/processor/
COPY --from=prod-deps /app/services/processor/dist services/processor/dist
COPY --from=prod-deps /app/gateway/package.json gateway/
# taskctl: the auth-keys step makes the development signing key with it,
# and prints tokens (docker compose run --rm auth-keys token --tenant NAME).
COPY --from=prod-deps /app/sdk/typescript/package.json sdk/typescript/
COPY --from=prod-deps /app/sdk/typescript/bin sdk/typescript/bin
COPY --from=prod-deps /app/sdk/typescript/dist sdk/typescript/dist
COPY deploy/probes deploy/probes
# The auth-keys volume's mount point, owned by the service user: a new
# volume takes its owner and mode from here, so taskctl can write the keys
# and every container (Envoy's user included) can read jwks.json.
RUN mkdir -p /etc/taskproc/auth && chown node:node /etc/taskproc/auth && chmod 755 /etc/taskproc/auth
USER node
EXPOSE 50051
# docker-compose.yml sets each service's command; this default is task-api's.
CMD ["node", "services/task-api/dist/main.js"]
