import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { health } from '@taskproc/contract';
import { waitFor } from '../../support/wait-for.js';

const { HealthCheckResponse_ServingStatus: ServingStatus } = health;

/** What a readiness check answered, and how long it took. */
export interface HealthReading {
  /** 'SERVING', 'NOT_SERVING', or why there was no answer (e.g. 'DEADLINE_EXCEEDED'). */
  status: string;
  ms: number;
}

const PROBE_TIMEOUT_MS = 5_000;

/**
 * task-api's readiness as a Kubernetes gRPC probe or Envoy sees it:
 * `grpc.health.v1.Health/Check` for the server as a whole ("").
 */
export class ReadinessProbe {
  private readonly client;

  constructor(taskApiUrl: string) {
    this.client = createClient(health.Health, createGrpcTransport({ baseUrl: taskApiUrl }));
  }

  async check(): Promise<HealthReading> {
    const started = Date.now();
    try {
      const answer = await this.client.check({ service: '' }, { timeoutMs: PROBE_TIMEOUT_MS });
      return { status: ServingStatus[answer.status], ms: Date.now() - started };
    } catch (error) {
      return { status: `no answer (${error instanceof Error ? error.message : String(error)})`, ms: Date.now() - started };
    }
  }

  /** Polls until the status is `expected`; the reading it ended on (resolves either way, within `timeoutMs`). */
  async waitFor(expected: 'SERVING' | 'NOT_SERVING', timeoutMs: number): Promise<HealthReading & { reached: boolean; afterMs: number }> {
    const started = Date.now();
    let last: HealthReading = { status: 'not checked', ms: 0 };
    const reached = await waitFor(
      async () => (last = await this.check()),
      (reading) => reading.status === expected,
      { timeoutMs, intervalMs: 250 },
    ).then(
      () => true,
      () => false,
    );
    return { ...last, reached, afterMs: Date.now() - started };
  }
}

/** `GET /health` of the REST gateway: its status code (0 without an answer) and how long it took. */
export async function restHealth(gatewayUrl: string): Promise<{ status: number; ms: number }> {
  const started = Date.now();
  const status = await fetch(`${gatewayUrl}/health`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) }).then(
    (r) => r.status,
    () => 0,
  );
  return { status, ms: Date.now() - started };
}

export interface HealthSample {
  /** When the checks were sent and when the slower one was answered. */
  at: number;
  answeredAt: number;
  readiness: HealthReading;
  /** GET /health through the gateway, when one runs. */
  rest: { status: number; ms: number } | null;
}

/** Reads readiness (and the gateway's /health) once a second until stopped, for scenarios to judge afterwards. */
export class HealthSampler {
  readonly samples: HealthSample[] = [];
  private readonly stopped = new AbortController();
  private readonly loop: Promise<void>;

  constructor(probe: ReadinessProbe, gatewayUrl: string | null) {
    this.loop = (async () => {
      while (!this.stopped.signal.aborted) {
        const at = Date.now();
        const [readiness, rest] = await Promise.all([probe.check(), gatewayUrl ? restHealth(gatewayUrl) : Promise.resolve(null)]);
        this.samples.push({ at, answeredAt: Date.now(), readiness, rest });
        const wait = Math.max(0, at + 1_000 - Date.now());
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          this.stopped.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
        });
      }
    })();
  }

  async stop(): Promise<HealthSample[]> {
    this.stopped.abort();
    await this.loop;
    return this.samples;
  }

  /**
   * Samples sent and answered within [from, to). A check sent just before an
   * outage ends may be answered just after it, by a database that is back.
   */
  between(from: number, to: number): HealthSample[] {
    return this.samples.filter((s) => s.at >= from && s.answeredAt < to);
  }
}
