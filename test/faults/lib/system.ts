import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { GrpcTaskClient, RestTaskClient } from './clients.js';
import type { Clients } from './load.js';
import type { ServiceProcess, ServiceSpec, Supervisor } from './supervisor.js';

export const GATEWAY_ENTRY = 'gateway/src/main.ts';

/**
 * The services of one scenario as processes: how each is configured and
 * started, and the clients that talk to them. Settings follow .env.test's
 * shape; each scenario may override any of them (e.g. PROCESSING_DURATION_MS).
 */
export class System {
  readonly clients: Clients;
  readonly taskApiUrl: string;
  readonly gatewayUrl: string;

  constructor(
    readonly supervisor: Supervisor,
    readonly repoRoot: string,
    readonly env: Record<string, string>,
  ) {
    this.taskApiUrl = `http://127.0.0.1:${env.TASK_API_PORT}`;
    this.gatewayUrl = `http://127.0.0.1:${env.GATEWAY_PORT}`;
    this.clients = { grpc: new GrpcTaskClient(this.taskApiUrl), rest: null };
  }

  /** Whether the embedded REST gateway exists in this checkout. */
  get gatewayAvailable(): boolean {
    return existsSync(join(this.repoRoot, GATEWAY_ENTRY));
  }

  taskApiSpec(overrides: Record<string, string> = {}): ServiceSpec {
    return {
      name: 'task-api',
      entry: 'services/task-api/src/main.ts',
      env: { ...this.env, ...overrides },
      ready: (service) => service.waitForLine(/task-api listening/, 60_000),
    };
  }

  processorSpec(n: number, overrides: Record<string, string> = {}): ServiceSpec {
    return {
      name: `processor-${n}`,
      entry: 'services/processor/src/main.ts',
      env: { ...this.env, ...overrides },
      ready: (service) => service.waitForLine(/"consuming tasks"/, 60_000),
    };
  }

  gatewaySpec(): ServiceSpec {
    return {
      name: 'gateway',
      entry: GATEWAY_ENTRY,
      env: this.env,
      ready: () => this.waitForGatewayHealth(),
    };
  }

  startTaskApi(overrides?: Record<string, string>): Promise<ServiceProcess> {
    return this.supervisor.start(this.taskApiSpec(overrides));
  }

  startProcessors(count: number, overrides?: Record<string, string>): Promise<ServiceProcess[]> {
    return Promise.all(Array.from({ length: count }, (_, i) => this.supervisor.start(this.processorSpec(i + 1, overrides))));
  }

  /**
   * Clients that send `token` with every call (a scenario with
   * authentication on), REST too once the gateway runs.
   */
  clientsWithToken(token: string): Clients {
    return {
      grpc: new GrpcTaskClient(this.taskApiUrl, undefined, token),
      rest: this.clients.rest ? new RestTaskClient(this.gatewayUrl, undefined, token) : null,
    };
  }

  /** Starts the gateway if this checkout has one; REST clients are used only then. */
  async startGateway(): Promise<boolean> {
    if (!this.gatewayAvailable) return false;
    await this.supervisor.start(this.gatewaySpec());
    this.clients.rest = new RestTaskClient(this.gatewayUrl);
    return true;
  }

  /** task-api, `processors` processors and (if present) the gateway. */
  async startAll(processors: number, overrides: { taskApi?: Record<string, string>; processor?: Record<string, string> } = {}): Promise<void> {
    await Promise.all([
      this.startTaskApi(overrides.taskApi),
      this.startProcessors(processors, overrides.processor),
      this.startGateway(),
    ]);
  }

  /**
   * The gateway is up once it answers GET /health at all: the status it
   * answers reflects task-api's health, which a scenario may have spoilt on purpose.
   */
  private async waitForGatewayHealth(): Promise<void> {
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
      try {
        await fetch(`${this.gatewayUrl}/health`, { signal: AbortSignal.timeout(2_000) });
        return;
      } catch {
        // not listening yet
      }
      await delay(200);
    }
    throw new Error(`gateway: GET /health did not answer within 60 s`);
  }
}
