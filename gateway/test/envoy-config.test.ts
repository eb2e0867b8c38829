import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fromJson, toJson, type FileRegistry, type JsonObject } from '@bufbuild/protobuf';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { annotatedServices, envoyIncompatibilities, readRestRoutes } from '../src/http-rules.js';
import { MAX_REQUEST_BODY_BYTES, REQUEST_TIMEOUT_MS } from '../src/limits.js';
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
};
const UPSTREAM = { host: 'task-api', port: 50051 };

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
const connectionManager = (): Json => listener().filter_chains[0].filters[0].typed_config;
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
      'type.googleapis.com/envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder',
      'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
    ]);
  });

  it.each([
    ['a misspelt field', 'convert_grpc_status: true', 'convert_grpc_statuz: true', /convert_grpc_statuz.*unknown/],
    ['a misspelt nested field', 'preserve_proto_field_names: true', 'preserve_proto_fields_names: true', /unknown/],
    ['a wrong type', 'port_value: 8080', 'port_value: eighty', /port_value.*expected number/],
    ['a wrong enum value', 'codec_type: AUTO', 'codec_type: HTTP4', /enum.*HTTP4|HTTP4/],
    ['a misspelt typed_config type', 'v3.StdoutAccessLog', 'v3.StdoutAccesLog', /not in the type registry/],
    ['a malformed duration', 'timeout: 15s', 'timeout: 15 seconds', /google\.protobuf\.Duration/],
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

  it('runs the Lua REST rule before the transcoder, and the router last', () => {
    expect(httpFilters().map((f) => f.name)).toEqual([
      'envoy.filters.http.lua',
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

  it('routes every annotated method, once transcoded, to the task-api cluster within the REST timeout', () => {
    const restRoutes = readRestRoutes(transcodedServices());
    expect(restRoutes.length).toBeGreaterThan(0);
    for (const { method } of restRoutes) {
      const grpcPath = `/${method.parent.typeName}/${method.name}`;
      const route = matchRoute(routes(), { path: grpcPath, contentType: 'application/grpc' });
      expect(route?.route?.cluster, grpcPath).toBe('task_api');
      expect(route?.route?.timeout, grpcPath).toBe(`${REQUEST_TIMEOUT_MS / 1000}s`);
    }
  });

  it('retries writes only when the request cannot have reached task-api', () => {
    for (const { method, httpMethod } of readRestRoutes(transcodedServices())) {
      if (httpMethod === 'GET') continue;
      const route = matchRoute(routes(), { path: `/${method.parent.typeName}/${method.name}`, contentType: 'application/grpc' });
      const retryOn = (route?.route?.retry_policy?.retry_on ?? '').split(',').filter(Boolean);
      expect(retryOn.every((condition) => ['connect-failure', 'refused-stream'].includes(condition)), method.name).toBe(true);
    }
  });

  it('routes RetryTask, PATCH /task/{task_id}/retry once transcoded, as a write retried only when it cannot have arrived', () => {
    const rest = readRestRoutes(transcodedServices()).filter((r) => r.method.name === 'RetryTask');
    expect(rest.map((r) => `${r.httpMethod} ${r.template.source}`)).toEqual(['PATCH /task/{task_id}/retry']);
    const route = matchRoute(routes(), { path: '/taskproc.v1.TaskService/RetryTask', contentType: 'application/grpc' });
    expect(route?.name).toBe('retry_task');
    expect(route?.route?.cluster).toBe('task_api');
    expect(route?.route?.retry_policy?.retry_on).toBe('connect-failure,refused-stream');
  });

  it('passes gRPC health and reflection through to task-api, and routes no untranscoded REST request', () => {
    for (const path of ['/grpc.health.v1.Health/Check', '/grpc.health.v1.Health/Watch', '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo']) {
      expect(matchRoute(routes(), { path, contentType: 'application/grpc' })?.route?.cluster, path).toBe('task_api');
    }
    expect(matchRoute(routes(), { path: '/task', contentType: 'application/json' })).toBeUndefined();
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

function transcodedServices() {
  const names: string[] = filter('envoy.filters.http.grpc_json_transcoder').services;
  return names.map((name) => contract.getService(name)!);
}
