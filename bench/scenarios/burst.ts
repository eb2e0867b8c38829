import type { DescMethod } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient, type CallOptions } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { TaskService } from '@taskproc/contract';
import type { Observer } from '../lib/observer.js';
import { peakRssMiB, resetPeakRss } from '../lib/process-stats.js';
import type { ServiceProcess } from '../lib/system.js';

// Goal 4's burst: `count` tasks sent with BatchCreateTasks as fast as the API
// takes them (`concurrency` callers, far more than it can commit at once). A
// call refused with RESOURCE_EXHAUSTED or UNAVAILABLE is sent again after a
// short backoff; any other answer (a timeout above all: the API queued
// instead of refusing) counts against the goal. Then the backlog must drain
// completely, with every process's peak RSS bounded.

export interface BurstRun {
  requested: number;
  created: number;
  completed: number;
  /** Refusals by code name (RESOURCE_EXHAUSTED, UNAVAILABLE); each was retried. */
  refused: Record<string, number>;
  /** Calls that ended with any other error; their tasks were not sent again. */
  otherErrors: number;
  firstOtherError: string | null;
  /** From the first call to the last task completed. */
  seconds: number;
  peakRssMiB: Record<string, number>;
}

const RETRYABLE = new Set([Code.ResourceExhausted, Code.Unavailable]);

export async function measureBurst(
  grpcUrl: string,
  observer: Observer,
  services: ServiceProcess[],
  method: DescMethod,
  shape: { count: number; batchSize: number; concurrency: number; callTimeoutMs: number },
): Promise<BurstRun> {
  await observer.waitForIdle(600_000);
  const after = await observer.watermark();
  services.forEach((s) => resetPeakRss(s.pid));
  const client = createClient(TaskService, createGrpcTransport({ baseUrl: grpcUrl })) as unknown as Record<string, (request: unknown, options: CallOptions) => Promise<unknown>>;
  const call = client[method.localName]!;
  const batches = Math.ceil(shape.count / shape.batchSize);
  const refused: Record<string, number> = {};
  let otherErrors = 0;
  let firstOtherError: string | null = null;
  let next = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: Math.min(shape.concurrency, batches) }, async () => {
      for (let b = next++; b < batches; b = next++) {
        const size = Math.min(shape.batchSize, shape.count - b * shape.batchSize);
        const request = { requests: Array.from({ length: size }, (_, i) => ({ content: `bench burst task ${b}.${i}` })) };
        for (let attempt = 0; ; attempt++) {
          try {
            await call(request, { timeoutMs: shape.callTimeoutMs });
            break;
          } catch (error) {
            const code = ConnectError.from(error).code;
            if (RETRYABLE.has(code)) {
              refused[Code[code]] = (refused[Code[code]] ?? 0) + 1;
              await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 20 * 2 ** attempt) * (0.5 + Math.random())));
              continue;
            }
            otherErrors++;
            firstOtherError ??= String(error);
            break;
          }
        }
      }
    }),
  );
  await observer.waitForIdle(900_000, 500);
  const created = await observer.countCreated(after);
  const completed = await observer.countTransitions(after, ['completed']);
  const last = await observer.lastAt(after, 'completed');
  return {
    requested: shape.count,
    created,
    completed,
    refused,
    otherErrors,
    firstOtherError,
    seconds: (last - started) / 1000,
    peakRssMiB: Object.fromEntries(services.map((s) => [s.name, peakRssMiB(s.pid)])),
  };
}
