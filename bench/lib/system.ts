import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import amqp from 'amqplib';
import { deleteTaskTopology, taskTopology } from '@taskproc/core';

// Starts the system under test (task-api, processors, gateway; each its own
// node process) with the settings of .env.dev, on a database and a queue
// namespace of the bench's own. The services run from the compiled build, as
// the runtime image runs them (`node services/task-api/dist/main.js`), so the
// figures are those of what is deployed; BENCH_FROM=source runs the sources
// under tsx instead, as `make start` does.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WORKSPACES = {
  'task-api': 'services/task-api',
  processor: 'services/processor',
  gateway: 'gateway',
} as const;
export type ServiceKind = keyof typeof WORKSPACES;

/** Where the services' code comes from: the compiled build (dist/, as the image) or the TypeScript sources under tsx. */
export type ServicesFrom = 'build' | 'source';

/**
 * node's arguments (after BENCH_NODE_ARGS) that start a service. The build:
 * its dist/main.js, which imports the other workspaces through their
 * package.json "default" condition (their dist/ too). The sources: its
 * src/main.ts under tsx with the "development" condition (every workspace's src/).
 */
export function serviceArgs(kind: ServiceKind, from: ServicesFrom): string[] {
  const workspace = WORKSPACES[kind];
  return from === 'build' ? [`${workspace}/dist/main.js`] : ['--conditions=development', '--import', 'tsx', `${workspace}/src/main.ts`];
}

/** Fails before anything starts when the build is missing (the make targets build first; a direct run may not have). */
export function assertBuilt(from: ServicesFrom, root: string = ROOT): void {
  if (from !== 'build') return;
  const missing = Object.values(WORKSPACES)
    .map((workspace) => `${workspace}/dist/main.js`)
    .filter((entry) => !existsSync(`${root}${entry}`));
  if (missing.length > 0) throw new Error(`the services are not built (${missing.join(', ')} missing): run \`make build\`, or set BENCH_FROM=source`);
}

/** BENCH_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=...": flags NODE_OPTIONS may not carry. */
export function benchNodeArgs(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
}

export interface ServiceProcess {
  name: string;
  pid: number;
  logFile: string;
  stop(): Promise<void>;
}

export interface SystemOptions {
  serviceEnv: Record<string, string>;
  databaseUrl: string;
  amqpUrl: string;
  namespace: string;
  gatewayPort: number;
  logDir: string;
  /** The build (default, as deployed) or the sources under tsx. */
  from: ServicesFrom;
}

export class BenchSystem {
  readonly processors: ServiceProcess[] = [];
  private api!: ServiceProcess;
  private gateway!: ServiceProcess;
  grpcUrl = '';
  gatewayUrl = '';

  private constructor(private readonly options: SystemOptions) {}

  static async start(options: SystemOptions, processorEnv: Record<string, string>, processors: number): Promise<BenchSystem> {
    assertBuilt(options.from);
    mkdirSync(options.logDir, { recursive: true });
    const system = new BenchSystem(options);
    const apiPort = await freePort(0);
    const gatewayPort = await freePort(options.gatewayPort);
    system.grpcUrl = `http://127.0.0.1:${apiPort}`;
    system.gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    system.api = system.launch('task-api', 'task-api', { TASK_API_PORT: String(apiPort) });
    await waitUntil('task-api health', () => healthy(`${system.grpcUrl}/grpc.health.v1.Health/Check`, 'POST'));
    system.gateway = system.launch('gateway', 'gateway', { GATEWAY_PORT: String(gatewayPort), GATEWAY_UPSTREAM_URL: system.grpcUrl });
    await waitUntil('gateway health', () => healthy(`${system.gatewayUrl}/health`, 'GET'));
    await system.startProcessors(processorEnv, processors);
    return system;
  }

  services(): ServiceProcess[] {
    return [this.api, this.gateway, ...this.processors];
  }

  async startProcessors(env: Record<string, string>, count: number): Promise<void> {
    const started = Array.from({ length: count }, (_, i) => this.launch(`processor-${i + 1}`, 'processor', env));
    await Promise.all(started.map((p) => waitUntil(`${p.name} to consume`, async () => readFileSync(p.logFile, 'utf8').includes('"consuming tasks"'))));
    this.processors.push(...started);
  }

  async stopProcessors(): Promise<void> {
    await Promise.all(this.processors.splice(0).map((p) => p.stop()));
  }

  async close(): Promise<void> {
    await this.stopProcessors();
    await this.gateway?.stop();
    await this.api?.stop();
    await deleteNamespace(this.options.amqpUrl, this.options.namespace, Number(this.options.serviceEnv.QUEUE_DELIVERY_LIMIT ?? 5));
  }

  private launches = 0;

  private launch(name: string, kind: ServiceKind, overrides: Record<string, string>): ServiceProcess {
    // One log file per process started, so a restarted processor's readiness
    // line is its own and not its predecessor's.
    const logFile = `${this.options.logDir}/${String(++this.launches).padStart(2, '0')}-${name}.log`;
    const fd = openSync(logFile, 'a');
    // NODE_OPTIONS (the heap bounds of .env.dev) comes with serviceEnv.
    const child: ChildProcess = spawn(process.execPath, [...benchNodeArgs(), ...serviceArgs(kind, this.options.from)], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        ...this.options.serviceEnv,
        DATABASE_URL: this.options.databaseUrl,
        AMQP_URL: this.options.amqpUrl,
        QUEUE_NAMESPACE: this.options.namespace,
        // Metrics on free ports: several processors share this machine.
        TASK_API_METRICS_PORT: '0',
        PROCESSOR_METRICS_PORT: '0',
        GATEWAY_METRICS_PORT: '0',
        ...overrides,
      },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    return {
      name,
      pid: child.pid!,
      logFile,
      async stop() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
      },
    };
  }
}

/** `preferred` when it is free (e.g. 8080), otherwise any free port. */
async function freePort(preferred: number): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<number | null>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(null));
      server.listen(port, '127.0.0.1', () => {
        const { port: chosen } = server.address() as { port: number };
        server.close(() => resolve(chosen));
      });
    });
  return (preferred > 0 ? await tryListen(preferred) : null) ?? (await tryListen(0))!;
}

async function healthy(url: string, method: string): Promise<boolean> {
  try {
    const response = await fetch(url, { method, headers: { 'content-type': 'application/json' }, body: method === 'POST' ? '{}' : undefined });
    return response.ok && (await response.text()).length > 0;
  } catch {
    return false;
  }
}

export async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(intervalMs);
  }
}

export async function deleteNamespace(amqpUrl: string, namespace: string, deliveryLimit: number): Promise<void> {
  const topology = taskTopology(namespace, deliveryLimit);
  const connection = await amqp.connect(amqpUrl);
  try {
    const channel = await connection.createChannel();
    await deleteTaskTopology(channel, topology);
    await channel.close();
  } finally {
    await connection.close();
  }
}
