import { existsSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEV_AUTH } from '@taskproc/client/dev-tokens';
import { fromJson, toJson, type FileRegistry, type JsonObject } from '@bufbuild/protobuf';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { annotatedServices, envoyIncompatibilities, readRestRoutes } from '../src/http-rules.js';
import { MAX_REQUEST_BODY_BYTES, MAX_REQUEST_HEADER_BYTES, MAX_TOKEN_BYTES, REQUEST_TIMEOUT_MS } from '../src/limits.js';
import { AUTH_REALM } from '../src/edge-auth.js';
import { environmentOf, loadCompose, mountsOf, publishedPorts } from '../../test/deployment/compose.js';
import { rewriteLocalReply } from './support/envoy-local-reply.js';
import { matchRoute, type EnvoyRoute } from './support/envoy-routes.js';
import { buildContractDescriptor, loadEnvoySchema } from './support/envoy-schema.js';

// gateway/envoy.yaml, checked offline: parsed strictly against Envoy's own
// schema (a misspelt field or a wrong type fails), then held against proto/,
// the Lua rule and the embedded gateway.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENVOY_YAML = readFileSync(new URL('../envoy.yaml', import.meta.url), 'utf8');

// Where docker-compose.yml and the Dockerfile put things (docs/gateway.md).
const MOUNTS = {
  descriptor: '/etc/envoy/taskproc.binpb',
  luaDir: '/etc/envoy/lua/',
  /** The auth-keys volume: jwks.json, the keys task-api verifies with too. */
  authDir: '/etc/taskproc/auth',
  /** `make certs` output (server.crt, server.key). */
  tlsDir: '/etc/taskproc/tls',
};
const COMPOSE = loadCompose(fileURLToPath(new URL('../../docker-compose.yml', import.meta.url)));
const UPSTREAM = { host: 'task-api', port: 50051 };
/** The compose service with the dashboard's files (test/deployment.test.ts checks the other side). */
const DASHBOARD = { host: 'dashboard', port: 8080 };

let envoySchema: FileRegistry;
let contract: FileRegistry;
/** envoy.yaml as Envoy reads it: parsed against the schema, printed back as canonical proto JSON. */
let config: JsonObject;

function parseBootstrap(yamlText: string): JsonObject {
  const bootstrap = envoySchema.getMessage('envoy.config.bootstrap.v3.Bootstrap')!;
  const message = fromJson(bootstrap, parse(yamlText), { registry: envoySchema });
  return toJson(bootstrap, message, { registry: envoySchema, useProtoFieldName: true }) as JsonObject;
}

// Small accessors into the canonical JSON.
type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
const listener = (): Json => (config as Json).static_resources.listeners[0];
const tlsListener = (): Json => (config as Json).static_resources.listeners[1];
const connectionManager = (): Json => listener().filter_chains[0].filters[0].typed_config;
const tlsConnectionManager = (): Json => tlsListener().filter_chains[0].filters[0].typed_config;
const httpFilters = (): Json[] => connectionManager().http_filters;
const filter = (name: string): Json => httpFilters().find((f) => f.name === name)?.typed_config;
const routes = (): EnvoyRoute[] => connectionManager().route_config.virtual_hosts[0].routes;
const cluster = (name: string): Json => (config as Json).static_resources.clusters.find((c: Json) => c.name === name);

beforeAll(async () => {
  [envoySchema, contract] = await Promise.all([loadEnvoySchema(), buildContractDescriptor(ROOT)]);
  config = parseBootstrap(ENVOY_YAML);
}, 60_000);

describe('gateway/envoy.yaml against Envoy schema', () => {
  it('parses strictly as envoy.config.bootstrap.v3.Bootstrap, every typed_config resolved', () => {
    expect(httpFilters().map((f) => f.typed_config['@type'])).toEqual([
      'type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua',
      'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
      'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication',
      'type.googleapis.com/envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder',
      'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
    ]);
    expect(tlsListener().filter_chains[0].transport_socket.typed_config['@type']).toBe(
      'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
    );
    expect(tlsConnectionManager().http_filters[0].typed_config['@type']).toBe(
      'type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutation',
    );
  });

  it.each([
    ['a misspelt field', 'convert_grpc_status: true', 'convert_grpc_statuz: true', /convert_grpc_statuz.*unknown/],
    ['a misspelt nested field', 'preserve_proto_field_names: true', 'preserve_proto_fields_names: true', /unknown/],
    ['a wrong type', 'port_value: 8080', 'port_value: eighty', /port_value.*expected number/],
    ['a wrong enum value', 'codec_type: AUTO', 'codec_type: HTTP4', /enum.*HTTP4|HTTP4/],
    ['a misspelt typed_config type', 'v3.StdoutAccessLog', 'v3.StdoutAccesLog', /not in the type registry/],
    ['a malformed duration', 'timeout: 15s', 'timeout: 15 seconds', /google\.protobuf\.Duration/],
    ['a misspelt jwt_authn field', 'forward: true', 'foward: true', /foward.*unknown/],
    ['a misspelt local reply mapper field', 'body_format_override:', 'body_format_overide:', /unknown/],
    ['a misspelt TLS field', 'tls_certificates:', 'tls_certificate:', /unknown/],
  ])('rejects %s', (_name, from, to, error) => {
    expect(ENVOY_YAML).toContain(from);
    expect(() => parseBootstrap(ENVOY_YAML.replace(from, to))).toThrow(error);
  });
});

describe('gateway/envoy.yaml against proto/, the Lua rule and the deployment', () => {
  it('listens on 0.0.0.0:8080 for HTTP/1.1 and cleartext HTTP/2; admin on loopback only', () => {
    expect(listener().address.socket_address).toMatchObject({ address: '0.0.0.0', port_value: 8080 });
    // AUTO is the enum's zero value, which canonical JSON leaves out.
    expect(connectionManager().codec_type ?? 'AUTO').toBe('AUTO');
    expect(ENVOY_YAML).toMatch(/codec_type: AUTO/);
    expect((config as Json).admin.address.socket_address).toMatchObject({ address: '127.0.0.1', port_value: 9901 });
  });

  it('runs the Lua REST rule first, the rate limit before the token check, the transcoder after it, and the router last', () => {
    expect(httpFilters().map((f) => f.name)).toEqual([
      'envoy.filters.http.lua',
      'envoy.filters.http.local_ratelimit',
      'envoy.filters.http.jwt_authn',
      'envoy.filters.http.grpc_json_transcoder',
      'envoy.filters.http.router',
    ]);
  });

  it('loads the Lua rule from the mounted gateway/lua folder', () => {
    const filename: string = filter('envoy.filters.http.lua').default_source_code.filename;
    expect(filename.startsWith(MOUNTS.luaDir)).toBe(true);
    expect(existsSync(new URL(`../lua/${filename.slice(MOUNTS.luaDir.length)}`, import.meta.url))).toBe(true);
  });

  it('transcodes exactly the annotated services of proto/, from the mounted descriptor set', () => {
    const transcoder = filter('envoy.filters.http.grpc_json_transcoder');
    expect(transcoder.proto_descriptor).toBe(MOUNTS.descriptor);
    const ours = [...contract.files].filter((file) => !file.name.startsWith('google/') && !file.name.startsWith('grpc/'));
    expect(transcoder.services).toEqual(annotatedServices(ours).map((service) => service.typeName));
    for (const name of transcoder.services) expect(contract.getService(name), name).toBeDefined();
  });

  it('prints JSON as the REST contract and the embedded gateway expect', () => {
    const transcoder = filter('envoy.filters.http.grpc_json_transcoder');
    expect(transcoder.print_options).toEqual({ always_print_primitive_fields: true, preserve_proto_field_names: true });
    expect(transcoder.convert_grpc_status).toBe(true);
    expect(transcoder.request_validation_options).toEqual({ reject_unknown_method: true, reject_unknown_query_parameters: true });
  });

  it('limits request bodies to the same 1 MiB as the Lua rule and the embedded gateway', () => {
    expect(filter('envoy.filters.http.grpc_json_transcoder').max_request_body_size).toBe(MAX_REQUEST_BODY_BYTES);
    const lua = readFileSync(new URL('../lua/rest_shape.lua', import.meta.url), 'utf8');
    expect(Number(/MAX_REQUEST_BODY_BYTES = (\d+)/.exec(lua)?.[1])).toBe(MAX_REQUEST_BODY_BYTES);
  });

  it('has only REST rules that Envoy accepts at start-up', () => {
    const services = transcodedServices();
    const problems = readRestRoutes(services).flatMap(envoyIncompatibilities);
    // Envoy exits at start-up on any of these ("transcoding_filter: Cannot register ...").
    expect(problems, 'google.api.http rules in proto/ that Envoy refuses').toEqual([]);
  });

  it('routes every annotated method, once transcoded, to the task-api cluster: unary ones within the REST timeout, streams without one', () => {
    const restRoutes = readRestRoutes(transcodedServices());
    expect(restRoutes.length).toBeGreaterThan(0);
    for (const { method } of restRoutes) {
      const grpcPath = `/${method.parent.typeName}/${method.name}`;
      const route = matchRoute(routes(), { path: grpcPath, contentType: 'application/grpc' });
      expect(route?.route?.cluster, grpcPath).toBe('task_api');
      const timeout = method.methodKind === 'unary' ? `${REQUEST_TIMEOUT_MS / 1000}s` : '0s';
      expect(route?.route?.timeout, grpcPath).toBe(timeout);
    }
    expect(restRoutes.some(({ method }) => method.methodKind === 'server_streaming')).toBe(true);
  });

  it('routes the gRPC-only stream WatchTasks without a timeout, and every stream only through a retry that cannot repeat messages', () => {
    for (const method of transcodedServices().flatMap((service) => service.methods)) {
      if (method.methodKind !== 'server_streaming') continue;
      const route = matchRoute(routes(), { path: `/${method.parent.typeName}/${method.name}`, contentType: 'application/grpc' });
      expect(route?.route?.timeout, method.name).toBe('0s');
      const retryOn = (route?.route?.retry_policy?.retry_on ?? '').split(',').filter(Boolean);
      expect(retryOn.every((condition) => ['connect-failure', 'refused-stream'].includes(condition)), method.name).toBe(true);
    }
    // Keep-alives (WATCH_KEEPALIVE_MS, 15 s by default) keep a quiet watch under the idle timeout.
    expect(Number.parseInt(connectionManager().stream_idle_timeout, 10)).toBeGreaterThan(15);
  });

  it('frames the REST watch route, and only it, as Server-Sent Events with a per-route transcoder config', () => {
    const transcoder = filter('envoy.filters.http.grpc_json_transcoder');
    expect(transcoder.print_options.stream_sse_style_delimited).toBeUndefined();
    // Routes that turn the transcoder off (the dashboard's) carry a FilterConfig, not a transcoder config.
    const sseRoutes = routes().filter((route) => route.typed_per_filter_config?.['envoy.filters.http.grpc_json_transcoder']?.disabled !== true && route.typed_per_filter_config?.['envoy.filters.http.grpc_json_transcoder']);
    expect(sseRoutes).toHaveLength(1);
    const [watch] = sseRoutes;
    const perRoute = watch!.typed_per_filter_config!['envoy.filters.http.grpc_json_transcoder'] as Json;
    // The filter's own config, with SSE framing on top.
    const { '@type': type, print_options: printOptions, ...rest } = perRoute;
    const { '@type': filterType, print_options: filterPrintOptions, ...filterRest } = transcoder;
    expect(type).toBe(filterType);
    expect(rest).toEqual(filterRest);
    expect(printOptions).toEqual({ ...filterPrintOptions, stream_sse_style_delimited: true });
    // It matches the watch route of proto/ exactly, as a REST request before transcoding.
    const watchRule = readRestRoutes(transcodedServices()).find((route) => route.method.name === 'WatchTask')!;
    expect(watchRule.template.source).toBe('/task/{task_id}/watch');
    const rest_ = (path: string) => matchRoute(routes(), { path, contentType: 'application/json' });
    expect(rest_('/task/0193f1f2-7c1e-7a55-9a0e-3f2b1c4d5e6f/watch')).toBe(watch);
    expect(rest_('/task/0193f1f2-7c1e-7a55-9a0e-3f2b1c4d5e6f/watch?x=1')).toBe(watch);
    for (const other of ['/task/x', '/tasks', '/task/x/events', '/task/x/cancel', '/task/x/watch/y']) expect(rest_(other), other).toBeUndefined();
    // Never forwarded untranscoded: after the transcoder, the request is routed again as gRPC.
    expect(watch!.direct_response).toEqual({ status: 404 });
    expect(watch!.route).toBeUndefined();
  });

  it('retries writes only when the request cannot have reached task-api', () => {
    for (const { method, httpMethod } of readRestRoutes(transcodedServices())) {
      if (httpMethod === 'GET') continue;
      const route = matchRoute(routes(), { path: `/${method.parent.typeName}/${method.name}`, contentType: 'application/grpc' });
      const retryOn = (route?.route?.retry_policy?.retry_on ?? '').split(',').filter(Boolean);
      expect(retryOn.every((condition) => ['connect-failure', 'refused-stream'].includes(condition)), method.name).toBe(true);
    }
  });

  it('transcodes POST /tasks:batchCreate to BatchCreateTasks, a write routed without retries on a reset', () => {
    const batch = readRestRoutes(transcodedServices()).find((r) => r.method.name === 'BatchCreateTasks');
    expect(batch).toMatchObject({ httpMethod: 'POST', body: '*' });
    expect(batch!.template.source).toBe('/tasks:batchCreate');
    const route = matchRoute(routes(), { path: '/taskproc.v1.TaskService/BatchCreateTasks', contentType: 'application/grpc' });
    expect(route?.route?.cluster).toBe('task_api');
    expect(route?.route?.retry_policy?.retry_on).toBe('connect-failure,refused-stream');
  });

  it('routes RetryTask, PATCH /task/{task_id}/retry once transcoded, as a write retried only when it cannot have arrived', () => {
    const rest = readRestRoutes(transcodedServices()).filter((r) => r.method.name === 'RetryTask');
    expect(rest.map((r) => `${r.httpMethod} ${r.template.source}`)).toEqual(['PATCH /task/{task_id}/retry']);
    const route = matchRoute(routes(), { path: '/taskproc.v1.TaskService/RetryTask', contentType: 'application/grpc' });
    expect(route?.name).toBe('retry_task');
    expect(route?.route?.cluster).toBe('task_api');
    expect(route?.route?.retry_policy?.retry_on).toBe('connect-failure,refused-stream');
  });

  it('maps Idempotency-Key to request_id in the Lua rule, which runs before the transcoder (it maps no header itself)', () => {
    const lua = readFileSync(new URL('../lua/rest_shape.lua', import.meta.url), 'utf8');
    const onRequest = lua.slice(lua.indexOf('function envoy_on_request'), lua.indexOf('function envoy_on_response'));
    expect(onRequest).toContain('headers:get("idempotency-key")');
    expect(onRequest).toContain('rest_shape.apply_idempotency_key(');
    expect(httpFilters().findIndex((f) => f.name === 'envoy.filters.http.lua')).toBeLessThan(
      httpFilters().findIndex((f) => f.name === 'envoy.filters.http.grpc_json_transcoder'),
    );
  });

  it('passes gRPC health and reflection through to task-api, and routes no untranscoded REST request', () => {
    for (const path of ['/grpc.health.v1.Health/Check', '/grpc.health.v1.Health/Watch', '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo']) {
      expect(matchRoute(routes(), { path, contentType: 'application/grpc' })?.route?.cluster, path).toBe('task_api');
    }
    expect(matchRoute(routes(), { path: '/task', contentType: 'application/json' })).toBeUndefined();
    for (const path of ['/tasks', '/task/x/events']) expect(matchRoute(routes(), { path, contentType: 'application/json' }), path).toBeUndefined();
  });

  it('passes the dashboard\'s Connect calls to task-api, untranscoded and unshaped; streams without a timeout', () => {
    const untouched = (route: EnvoyRoute | undefined) => {
      const filters = route?.typed_per_filter_config ?? {};
      return filters['envoy.filters.http.lua']?.disabled === true && filters['envoy.filters.http.grpc_json_transcoder']?.disabled === true;
    };
    for (const method of contract.getService('taskproc.v1.TaskService')!.methods) {
      const path = `/taskproc.v1.TaskService/${method.name}`;
      if (method.methodKind === 'unary') {
        for (const contentType of ['application/proto', 'application/json']) {
          const route = matchRoute(routes(), { path, contentType });
          expect(route?.route?.cluster, `${path} ${contentType}`).toBe('task_api');
          expect(route?.route?.timeout, path).toBe(`${REQUEST_TIMEOUT_MS / 1000}s`);
          expect(route?.route?.retry_policy?.retry_on, path).toBe('connect-failure,refused-stream');
          expect(untouched(route), path).toBe(true);
        }
      } else {
        for (const contentType of ['application/connect+proto', 'application/connect+json']) {
          const route = matchRoute(routes(), { path, contentType });
          expect(route?.route?.cluster, `${path} ${contentType}`).toBe('task_api');
          expect(route?.route?.timeout ?? '0s', path).toBe('0s');
          expect(untouched(route), path).toBe(true);
        }
      }
      // gRPC keeps its own routes, and the REST rule and transcoder stay on for them.
      expect(untouched(matchRoute(routes(), { path, contentType: 'application/grpc' })), path).toBe(false);
    }
  });

  it('serves /ui/ from the dashboard\'s static file server in docker-compose.yml', () => {
    for (const path of ['/ui/', '/ui/assets/index-abc.js', '/ui']) {
      const route = matchRoute(routes(), { path, contentType: '' });
      expect(route?.route?.cluster, path).toBe('dashboard');
      expect(route?.typed_per_filter_config?.['envoy.filters.http.lua']?.disabled, path).toBe(true);
      expect(route?.typed_per_filter_config?.['envoy.filters.http.grpc_json_transcoder']?.disabled, path).toBe(true);
    }
    expect(cluster('dashboard').load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({
      address: DASHBOARD.host,
      port_value: DASHBOARD.port,
    });
  });

  it('reaches task-api over HTTP/2 with gRPC health checks', () => {
    const taskApi = cluster('task_api');
    expect(taskApi.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({
      address: UPSTREAM.host,
      port_value: UPSTREAM.port,
    });
    const protocol = taskApi.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
    expect(protocol.explicit_http_config.http2_protocol_options).toEqual({});
    expect(taskApi.health_checks[0].grpc_health_check).toBeDefined();
  });

  it('logs every request to stdout', () => {
    expect(connectionManager().access_log.map((log: Json) => log.typed_config['@type'])).toEqual([
      'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog',
    ]);
  });
});

describe('gateway/envoy.yaml: authentication, limits and TLS at the edge', () => {
  const jwtAuthn = (): Json => filter('envoy.filters.http.jwt_authn');
  const provider = (): Json => jwtAuthn().providers.taskproc;
  const jwtRules = (): EnvoyRoute[] => jwtAuthn().rules;
  /** The jwt_authn rule a request meets first (rules match as routes do). */
  const ruleFor = (path: string, contentType: string): Json => matchRoute(jwtRules(), { path, contentType });
  const OPEN_METHODS = new Set(['CheckHealth']);
  const sample = (template: string) => template.replace(/\{[^}]+\}/g, '0193f1f2-7c1e-7a55-9a0e-3f2b1c4d5e6f');
  const composeEnvoy = () => COMPOSE.services.envoy!;

  it('verifies bearer JWTs from the Authorization header alone, with task-api\'s issuer, audience and JWKS file, and passes the token on', () => {
    expect(Object.keys(jwtAuthn().providers)).toEqual(['taskproc']);
    const taskApi = environmentOf(COMPOSE.services['task-api']!);
    expect(provider().issuer).toBe(DEV_AUTH.issuer);
    expect(provider().issuer).toBe(taskApi.AUTH_ISSUER);
    expect(provider().audiences).toEqual([DEV_AUTH.audience]);
    expect(provider().audiences).toEqual([taskApi.AUTH_AUDIENCE]);
    expect(provider().local_jwks.filename).toBe(`${MOUNTS.authDir}/jwks.json`);
    expect(provider().local_jwks.filename).toBe(taskApi.AUTH_JWKS_FILE);
    expect(provider().from_headers).toEqual([{ name: 'authorization', value_prefix: 'Bearer ' }]);
    // No other place a token could come from (jwt_authn's default adds the access_token query parameter).
    expect(provider().from_params).toBeUndefined();
    expect(provider().from_cookies).toBeUndefined();
    // The header stays for task-api, which verifies again and reads the tenant.
    expect(provider().forward).toBe(true);
    expect(provider().clock_skew_seconds).toBe(Number(taskApi.AUTH_CLOCK_SKEW_S));
    expect(taskApi.AUTH_MODE).toBe('jwt');
  });

  it('reads the JWKS from the auth-keys volume, mounted read-only into Envoy and task-api at the same place', () => {
    for (const name of ['envoy', 'task-api']) {
      const mount = mountsOf(COMPOSE.services[name]!).find((m) => m.target === MOUNTS.authDir);
      expect(mount, name).toEqual({ source: 'auth-keys', target: MOUNTS.authDir, readOnly: true });
    }
    expect(posix.dirname(provider().local_jwks.filename)).toBe(MOUNTS.authDir);
  });

  it('requires a token on every REST route of proto/ but GET /health, before the transcoder, any route added later included', () => {
    const restRoutes = readRestRoutes(transcodedServices());
    expect(restRoutes.length).toBeGreaterThan(5);
    for (const { method, httpMethod, template } of restRoutes) {
      const path = sample(template.source);
      const rule = ruleFor(path, 'application/json');
      const name = `${httpMethod} ${template.source}`;
      expect(rule, name).toBeDefined();
      if (OPEN_METHODS.has(method.name)) expect(rule.requires, name).toBeUndefined();
      else expect(rule.requires, name).toEqual({ provider_name: 'taskproc' });
    }
    expect(restRoutes.find((route) => route.method.name === 'CheckHealth')?.template.source).toBe('/health');
    expect(ruleFor('/health', '').requires).toBeUndefined();
    expect(ruleFor('/health?x=1', '').requires).toBeUndefined();
    // The last rule takes everything else.
    expect(jwtRules().at(-1)).toEqual({ match: { prefix: '/' }, requires: { provider_name: 'taskproc' } });
    for (const path of ['/anything', '/tasks/new-route', '/task']) expect(ruleFor(path, 'application/json').requires, path).toBeDefined();
  });

  it('requires a token on every TaskService RPC but CheckHealth, over gRPC and Connect; health, reflection and the dashboard\'s files are open', () => {
    for (const method of contract.getService('taskproc.v1.TaskService')!.methods) {
      const path = `/taskproc.v1.TaskService/${method.name}`;
      for (const contentType of ['application/grpc', 'application/proto', 'application/connect+json']) {
        const rule = ruleFor(path, contentType);
        if (OPEN_METHODS.has(method.name)) expect(rule.requires, path).toBeUndefined();
        else expect(rule.requires, `${path} ${contentType}`).toEqual({ provider_name: 'taskproc' });
      }
    }
    for (const path of ['/grpc.health.v1.Health/Check', '/grpc.health.v1.Health/Watch', '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo', '/ui/', '/ui/assets/index.js']) {
      expect(ruleFor(path, 'application/grpc')?.requires, path).toBeUndefined();
    }
    // Only the rules above are open: the exempt ones name no TaskService route but CheckHealth.
    const open = jwtRules().filter((rule: Json) => rule.requires === undefined);
    expect(open.map((rule) => rule.match)).toEqual([
      { path: '/health' },
      { path: '/taskproc.v1.TaskService/CheckHealth' },
      { prefix: '/grpc.health.v1.Health/' },
      { prefix: '/grpc.reflection.' },
      { prefix: '/ui' },
    ]);
  });

  it("answers its own refusals in the contract's shape: 401 with the Status body and challenge, 429 with Retry-After", () => {
    const localReplies = connectionManager().local_reply_config;
    const rest = { 'content-type': 'application/json', ':path': '/tasks' };
    const challenge = `Bearer realm="${AUTH_REALM}"`;

    // jwt_authn without a token: its challenge names the request URL; ours the realm.
    const missing = rewriteLocalReply(localReplies, { request: rest, status: 401, body: 'Jwt is missing', headers: { 'www-authenticate': 'Bearer realm="http://x/tasks"' } });
    expect(missing).toMatchObject({ status: 401, headers: { 'www-authenticate': challenge }, body: { code: 16, message: 'missing bearer token', details: [] } });

    // A token jwt_authn refused: its reason as the message.
    for (const [status, reason] of [
      [401, 'Jwt is expired'],
      [401, 'Jwt verification fails'],
      [403, 'Audiences in Jwt are not allowed'],
    ] as const) {
      const refused = rewriteLocalReply(localReplies, { request: { ...rest, authorization: 'Bearer a.b.c' }, status, body: reason });
      expect(refused, reason).toMatchObject({ status: 401, headers: { 'www-authenticate': `${challenge}, error="invalid_token"` }, body: { code: 16, message: reason, details: [] } });
    }

    // local_ratelimit: its own Retry-After stays.
    const limited = rewriteLocalReply(localReplies, { request: rest, status: 429, body: 'local_rate_limited', headers: { 'retry-after': '1' } });
    expect(limited).toMatchObject({ status: 429, headers: { 'retry-after': '1' }, body: { code: 8, details: [] } });
    expect(typeof (limited.body as Json).message).toBe('string');

    // gRPC callers keep Envoy's gRPC answer (grpc-message is the reason); a wrong audience is UNAUTHENTICATED too.
    for (const contentType of ['application/grpc', 'application/grpc+proto']) {
      const grpc = { 'content-type': contentType, authorization: 'Bearer a.b.c' };
      expect(rewriteLocalReply(localReplies, { request: grpc, status: 403, body: 'Audiences in Jwt are not allowed' })).toMatchObject({ status: 401, body: 'Audiences in Jwt are not allowed' });
      expect(rewriteLocalReply(localReplies, { request: grpc, status: 429, body: 'local_rate_limited' })).toMatchObject({ status: 429, body: 'local_rate_limited' });
    }

    // The dashboard's Connect calls get the Connect protocol's error JSON.
    const connect = { 'content-type': 'application/json', ':path': '/taskproc.v1.TaskService/ListTasks' };
    expect(rewriteLocalReply(localReplies, { request: connect, status: 401, body: 'Jwt is missing' })).toMatchObject({ status: 401, body: { code: 'unauthenticated', message: 'Jwt is missing' } });
    expect(rewriteLocalReply(localReplies, { request: { ...connect, authorization: 'Bearer a.b.c' }, status: 403, body: 'Audiences in Jwt are not allowed' })).toMatchObject({ status: 401, body: { code: 'unauthenticated' } });
    expect(rewriteLocalReply(localReplies, { request: connect, status: 429, body: 'x', headers: { 'retry-after': '1' } })).toMatchObject({ status: 429, headers: { 'retry-after': '1' }, body: { code: 'resource_exhausted' } });

    // The Lua rule's own replies (its 401 for an oversized token among them) are final.
    const luaReply = { request: { ...rest, authorization: `Bearer ${'x'.repeat(9000)}` }, status: 401, body: '{"code":16,"message":"token too large","details":[]}', metadata: { 'taskproc.rest_shape': { local_reply: true } } };
    expect(rewriteLocalReply(localReplies, luaReply)).toMatchObject({ status: 401, body: luaReply.body });
    const lua = readFileSync(new URL('../lua/rest_shape.lua', import.meta.url), 'utf8');
    expect(lua).toContain('rest_shape.METADATA_NAMESPACE = "taskproc.rest_shape"');
    expect(lua).toContain('rest_shape.LOCAL_REPLY_KEY = "local_reply"');

    // Other local replies (no route, upstream down) are left to the Lua rule, as before.
    for (const status of [404, 413, 503, 504]) expect(rewriteLocalReply(localReplies, { request: rest, status, body: 'x' }).mapper, String(status)).toBe(-1);
  });

  it('rate-limits each listener as a whole, on and enforced for every request, with Retry-After and RESOURCE_EXHAUSTED for gRPC', () => {
    const limit = filter('envoy.filters.http.local_ratelimit');
    expect(limit.token_bucket.max_tokens).toBeGreaterThan(0);
    expect(limit.token_bucket.fill_interval).toBe('1s');
    for (const key of ['filter_enabled', 'filter_enforced']) expect(limit[key].default_value, key).toEqual({ numerator: 100 });
    expect(limit.response_headers_to_add).toEqual([{ header: { key: 'retry-after', value: '1' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }]);
    expect(limit.rate_limited_as_resource_exhausted).toBe(true);
    // A bucket for the listener, not per connection or per tenant (task-api keeps those).
    expect(limit.local_rate_limit_per_downstream_connection).toBeUndefined();
    expect(limit.descriptors).toBeUndefined();
  });

  it('holds request headers to the embedded gateway\'s limit, and oversized tokens to the same 8 KiB in the Lua rule', () => {
    for (const manager of [connectionManager(), tlsConnectionManager()]) expect(manager.max_request_headers_kb * 1024).toBe(MAX_REQUEST_HEADER_BYTES);
    const lua = readFileSync(new URL('../lua/rest_shape.lua', import.meta.url), 'utf8');
    expect(Number(/MAX_TOKEN_BYTES = (\d+)/.exec(lua)?.[1])).toBe(MAX_TOKEN_BYTES);
  });

  it('logs no credentials', () => {
    const logs = JSON.stringify([connectionManager().access_log, tlsConnectionManager().access_log]);
    expect(logs.toLowerCase()).not.toContain('authorization');
    expect(logs).not.toMatch(/%REQ\(COOKIE\)%/i);
    expect(logs).toContain('%DYNAMIC_METADATA(envoy.filters.http.jwt_authn:jwt_payload:tenant)%');
    expect(provider().payload_in_metadata).toBe('jwt_payload');
  });

  it('serves TLS on 0.0.0.0:8443 with the certificate and key mounted from make certs, HTTP/2 and HTTP/1.1 by ALPN', () => {
    expect(tlsListener().address.socket_address).toEqual({ address: '0.0.0.0', port_value: 8443 });
    const tls = tlsListener().filter_chains[0].transport_socket.typed_config.common_tls_context;
    expect(tls.alpn_protocols).toEqual(['h2', 'http/1.1']);
    expect(tls.tls_params.tls_minimum_protocol_version).toBe('TLSv1_2');
    expect(tls.tls_certificates).toEqual([{ certificate_chain: { filename: `${MOUNTS.tlsDir}/server.crt` }, private_key: { filename: `${MOUNTS.tlsDir}/server.key` } }]);
    const mount = mountsOf(composeEnvoy()).find((m) => m.target === MOUNTS.tlsDir);
    expect(mount).toEqual({ source: './.run/certs', target: MOUNTS.tlsDir, readOnly: true });
    const makeCerts = readFileSync(new URL('../../make/certs.mk', import.meta.url), 'utf8');
    expect(makeCerts).toMatch(/^CERTS_DIR \?= \.run\/certs$/m);
    expect(publishedPorts(composeEnvoy()).map((port) => port.containerPort)).toEqual([8080, 8443]);
    // The plain listener stays plain.
    expect(listener().filter_chains[0].transport_socket).toBeUndefined();
  });

  it('serves the same routes, filters and replies over TLS, and adds Strict-Transport-Security there only', () => {
    const { stat_prefix: tlsPrefix, http_filters: tlsFilters, ...tls } = tlsConnectionManager();
    const { stat_prefix: plainPrefix, http_filters: plainFilters, ...plain } = connectionManager();
    expect(tlsPrefix).not.toBe(plainPrefix);
    expect(tls).toEqual(plain);
    expect(tlsFilters.slice(1)).toEqual(plainFilters);
    const [hsts] = tlsFilters;
    expect(hsts.name).toBe('envoy.filters.http.header_mutation');
    const mutations = hsts.typed_config.mutations;
    expect(mutations.request_mutations).toBeUndefined();
    expect(mutations.response_mutations).toHaveLength(1);
    const { header, append_action: action } = mutations.response_mutations[0].append;
    expect(header.key).toBe('strict-transport-security');
    expect(Number(/^max-age=(\d+)$/.exec(header.value)?.[1])).toBeGreaterThanOrEqual(31_536_000);
    expect(action).toBe('OVERWRITE_IF_EXISTS_OR_ADD');
    // First on requests, so every answer passes it on the way out, Envoy's own replies included.
    expect(JSON.stringify(listener()).toLowerCase()).not.toContain('strict-transport-security');
  });
});

function transcodedServices() {
  const names: string[] = filter('envoy.filters.http.grpc_json_transcoder').services;
  return names.map((name) => contract.getService(name)!);
}
