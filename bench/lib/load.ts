import { performance } from 'node:perf_hooks';

export interface LoadResult {
  count: number;
  errors: number;
  firstError: string | null;
  /** Wall-clock ms (Date.now()) when the first call was sent and the last answered. */
  startedAt: number;
  endedAt: number;
  elapsedMs: number;
  /** Latency of each successful call, ms. */
  latencies: Float64Array;
}

/**
 * Closed loop: `concurrency` callers, each sending its next call as soon as
 * the previous one is answered, until `count` calls have been made.
 */
export async function closedLoop(count: number, concurrency: number, call: (i: number, caller: number) => Promise<unknown>): Promise<LoadResult> {
  const latencies = new Float64Array(count);
  let next = 0;
  let ok = 0;
  let errors = 0;
  let firstError: string | null = null;
  const startedAt = Date.now();
  const t0 = performance.now();
  const caller = async (callerIndex: number) => {
    for (let i = next++; i < count; i = next++) {
      const sent = performance.now();
      try {
        await call(i, callerIndex);
        latencies[ok++] = performance.now() - sent;
      } catch (error) {
        errors++;
        firstError ??= String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, (_, c) => caller(c)));
  const elapsedMs = performance.now() - t0;
  return { count, errors, firstError, startedAt, endedAt: startedAt + elapsedMs, elapsedMs, latencies: latencies.subarray(0, ok) };
}

/**
 * Open loop: starts calls at a fixed rate whatever the answers do, as
 * independent users would, for `seconds`.
 */
export async function openLoop(ratePerSecond: number, seconds: number, call: (i: number) => Promise<unknown>): Promise<LoadResult> {
  const count = Math.round(ratePerSecond * seconds);
  const latencies = new Float64Array(count);
  let ok = 0;
  let errors = 0;
  let firstError: string | null = null;
  const startedAt = Date.now();
  const t0 = performance.now();
  const calls: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const due = t0 + (i * 1000) / ratePerSecond;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const sent = performance.now();
    calls.push(
      call(i).then(
        () => void (latencies[ok++] = performance.now() - sent),
        (error: unknown) => {
          errors++;
          firstError ??= String(error);
        },
      ),
    );
  }
  await Promise.all(calls);
  const elapsedMs = performance.now() - t0;
  return { count, errors, firstError, startedAt, endedAt: startedAt + elapsedMs, elapsedMs, latencies: latencies.subarray(0, ok) };
}
