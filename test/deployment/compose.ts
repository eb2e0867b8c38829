import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

// Reading compose files the way `docker compose` does, for the offline checks
// in test/deployment.test.ts: YAML with merge keys (<<), then variable
// interpolation, then later files merged over earlier ones.

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export interface HealthCheck {
  test?: string | string[];
  disable?: boolean;
  interval?: string;
  timeout?: string;
  retries?: number;
  start_period?: string;
}

export interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string; target?: string };
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: string[] | Record<string, { condition: string }>;
  healthcheck?: HealthCheck;
  ports?: (string | number | { target: number; published?: string | number; host_ip?: string })[];
  expose?: (string | number)[];
  volumes?: (string | { type: string; source?: string; target: string; read_only?: boolean })[];
  container_name?: string;
  restart?: string;
  [key: string]: unknown;
}

export interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
  [key: string]: unknown;
}

/** Parses YAML as compose does: YAML 1.1 merge keys, no custom tags. */
export function readYaml(path: string): Json {
  return parse(readFileSync(path, 'utf8'), { merge: true, uniqueKeys: true }) as Json;
}

const VARIABLE = /\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g;

/**
 * Compose's variable interpolation (`$$`, `$VAR`, `${VAR}`, `${VAR:-default}`,
 * `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`) over every string.
 * A variable that is unset and has no default throws: the stack must start
 * from a fresh clone without any .env file.
 */
export function interpolate(value: Json, env: Record<string, string | undefined>): Json {
  if (typeof value === 'string') {
    return value.replace(VARIABLE, (whole, braced?: string, operator?: string, operand?: string, bare?: string) => {
      if (whole === '$$') return '$';
      const name = (braced ?? bare)!;
      const current = env[name];
      const unset = operator?.startsWith(':') ? !current : current === undefined;
      if (!unset) return current!;
      if (operator === ':-' || operator === '-') return operand ?? '';
      if (operator === ':?' || operator === '?') throw new Error(`${name}: ${operand || 'is required'}`);
      throw new Error(`\${${name}} is used without a default`);
    });
  }
  if (Array.isArray(value)) return value.map((item) => interpolate(item, env));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolate(item, env)]));
  }
  return value;
}

/**
 * Loads one compose file, interpolated with `env` (default: nothing set),
 * with the services compose starts when `profiles` are active: a service
 * with a `profiles` list runs only when one of them is (none by default).
 */
export function loadCompose(path: string, env: Record<string, string | undefined> = {}, profiles: string[] = []): ComposeFile {
  const file = interpolate(readYaml(path), env) as unknown as ComposeFile;
  const services = Object.entries(file.services ?? {}).filter(([, service]) => {
    const wanted = service.profiles as string[] | undefined;
    return !wanted || wanted.some((profile) => profiles.includes(profile));
  });
  return { ...file, services: Object.fromEntries(services) };
}

/** The environment of a service as a map, whichever form the file uses. */
export function environmentOf(service: Service): Record<string, string> {
  const { environment } = service;
  if (!environment) return {};
  if (Array.isArray(environment)) {
    return Object.fromEntries(environment.map((entry) => {
      const at = entry.indexOf('=');
      return at < 0 ? [entry, ''] : [entry.slice(0, at), entry.slice(at + 1)];
    }));
  }
  return Object.fromEntries(Object.entries(environment).map(([key, value]) => [key, value === null ? '' : String(value)]));
}

/** depends_on as { service: condition }; the short list form means service_started. */
export function dependenciesOf(service: Service): Record<string, string> {
  const { depends_on: dependsOn } = service;
  if (!dependsOn) return {};
  if (Array.isArray(dependsOn)) return Object.fromEntries(dependsOn.map((name) => [name, 'service_started']));
  return Object.fromEntries(Object.entries(dependsOn).map(([name, { condition }]) => [name, condition]));
}

/** The command as an argument vector (a string command is split on blanks, as compose does). */
export function argv(command: string | string[] | undefined): string[] {
  if (command === undefined) return [];
  return Array.isArray(command) ? command : command.trim().split(/\s+/);
}

export interface PublishedPort {
  hostIp: string | null;
  hostPort: string | null;
  containerPort: number;
}

/** Parses the short `[[ip:]host:]container[/proto]` and the long port syntax. */
export function publishedPorts(service: Service): PublishedPort[] {
  return (service.ports ?? []).map((port) => {
    if (typeof port === 'object') {
      return { hostIp: port.host_ip ?? null, hostPort: port.published === undefined ? null : String(port.published), containerPort: port.target };
    }
    const parts = String(port).replace(/\/(tcp|udp|sctp)$/, '').split(':');
    const containerPort = Number(parts.pop());
    const hostPort = parts.pop() ?? null;
    const hostIp = parts.length > 0 ? parts.join(':') : null;
    return { hostIp, hostPort, containerPort };
  });
}

export interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
}

/** Volumes in the short `source:target[:mode]` or the long syntax. */
export function mountsOf(service: Service): Mount[] {
  return (service.volumes ?? []).map((volume) => {
    if (typeof volume === 'object') {
      return { source: volume.source ?? '', target: volume.target, readOnly: volume.read_only === true };
    }
    const [source = '', target = '', mode = ''] = volume.split(':');
    return { source, target, readOnly: mode.split(',').includes('ro') };
  });
}

/**
 * Later files over earlier ones, as `docker compose -f a -f b` does, for the
 * shapes these files use: services and top-level maps merge by key, a
 * service's maps merge by key, its lists and scalars are replaced.
 */
export function mergeCompose(base: ComposeFile, ...overrides: ComposeFile[]): ComposeFile {
  const merged: ComposeFile = structuredClone(base);
  for (const override of overrides) {
    for (const [key, value] of Object.entries(override)) {
      if (key === 'services') continue;
      merged[key] = isMap(value) && isMap(merged[key]) ? { ...merged[key], ...value } : value;
    }
    for (const [name, service] of Object.entries(override.services ?? {})) {
      const into: Service = merged.services[name] ?? {};
      for (const [key, value] of Object.entries(service)) {
        into[key] = isMap(value) && isMap(into[key]) ? { ...into[key], ...value } : value;
      }
      merged.services[name] = into;
    }
  }
  return merged;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
