import { setTimeout as sleep } from 'node:timers/promises';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import { health } from '@taskproc/contract';

const { HealthCheckResponseSchema, HealthCheckResponse_ServingStatus: ServingStatus } = health;
type ServingStatus = health.HealthCheckResponse_ServingStatus;

export interface HealthServiceOptions {
  /** Answers whether the database can be reached. Should be quick; a throw counts as "no". */
  probe: () => Promise<boolean>;
  /** Fully qualified names of the services served, e.g. "taskproc.v1.TaskService". */
  services: readonly string[];
  /** How often Watch re-probes to notice a change. Default 1000 ms. */
  watchIntervalMs?: number;
}

const DEFAULT_WATCH_INTERVAL_MS = 1_000;

/**
 * The standard grpc.health.v1.Health service (https://grpc.io/docs/guides/health-checking/).
 *
 * Every known name — "" (the server as a whole) and each of `services` — shares
 * one status: SERVING when `probe` says the database is reachable, NOT_SERVING
 * otherwise, since every RPC we serve needs it.
 *
 * - Check: the status; an unknown name fails with NOT_FOUND.
 * - Watch: the status at once, then each change (re-probed every
 *   `watchIntervalMs`); an unknown name gets SERVICE_UNKNOWN and the stream stays
 *   open, as the spec asks. Ends when the client goes away or the server's
 *   shutdown signal aborts the handler context.
 * - List: the status of every known name.
 */
export function createHealthService(options: HealthServiceOptions): ServiceImpl<typeof health.Health> {
  const known = new Set(['', ...options.services]);
  const intervalMs = options.watchIntervalMs ?? DEFAULT_WATCH_INTERVAL_MS;
  const currentStatus = sharedProbe(options.probe);

  const statusOf = async (service: string): Promise<ServingStatus> =>
    known.has(service) ? await currentStatus() : ServingStatus.SERVICE_UNKNOWN;

  return {
    async check(request) {
      if (!known.has(request.service)) {
        throw new ConnectError(`unknown service "${request.service}"`, Code.NotFound);
      }
      return create(HealthCheckResponseSchema, { status: await currentStatus() });
    },

    async *watch(request, context: HandlerContext) {
      let last: ServingStatus | undefined;
      while (!context.signal.aborted) {
        const status = await statusOf(request.service);
        if (status !== last) {
          last = status;
          yield create(HealthCheckResponseSchema, { status });
        }
        if (!(await pause(intervalMs, context.signal))) return;
      }
    },

    async list() {
      const status = await currentStatus();
      const statuses = Object.fromEntries(
        [...known].map((name) => [name, create(HealthCheckResponseSchema, { status })]),
      );
      return create(health.HealthListResponseSchema, { statuses });
    },
  };
}

/**
 * Wraps the probe so that concurrent callers (many Watch streams, a burst of
 * Checks from load balancers) share the one probe in flight instead of each
 * opening a database round trip.
 */
function sharedProbe(probe: () => Promise<boolean>): () => Promise<ServingStatus> {
  let inFlight: Promise<ServingStatus> | undefined;
  return () => {
    inFlight ??= probe()
      .then((up) => (up ? ServingStatus.SERVING : ServingStatus.NOT_SERVING))
      // A probe that breaks its promise not to throw still means "not serving".
      .catch(() => ServingStatus.NOT_SERVING)
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
}

/** Waits `ms`; false when the signal aborted first (the client went away). */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}
