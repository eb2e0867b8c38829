import type { Ledger } from '../lib/cpu-ledger.js';

// What run.ts hands a peer's script (one JSON argument) and what the script
// prints back (one JSON line on stdout; progress goes to stderr).

export interface PeerRequest {
  /** Tasks per measured run, as in taskproc's end-to-end phase. */
  count: number;
  /** Concurrent producers, each adding its next job when the previous add returned. */
  producers: number;
  runs: number;
  warmup: number;
  /** Jobs the consumer side works on at once: taskproc's processors x prefetch. */
  consumerSlots: number;
  /** Consumers (taskproc's processor count); pg-boss polls with this many workers. */
  consumers: number;
  /** Redis (BullMQ) or PostgreSQL (pg-boss) URL; the database is the peer's own, made and dropped by run.ts. */
  url: string;
  /** Key prefix (BullMQ) or queue name (pg-boss) of this run's own. */
  namespace: string;
}

export interface PeerRun {
  /** Jobs per second from the first add to the last job completed. */
  perSecond: number;
  /** Adds per second (the producers' side alone). */
  enqueuePerSecond: number;
  /** From a job's add to its completion, ms. */
  p50Ms: number;
  p99Ms: number;
  ledger: Ledger;
}

export interface PeerResult {
  peer: string;
  version: string;
  /** How the peer's store was set up, e.g. Redis without persistence. */
  durability: string;
  settings: Record<string, unknown>;
  runs: PeerRun[];
}

export function readRequest(): PeerRequest {
  return JSON.parse(process.argv[2] ?? '{}') as PeerRequest;
}

export function log(message: string): void {
  process.stderr.write(`  ${message}\n`);
}

/** Nearest-rank percentile (the same rule as bench/lib/stats.ts). */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = Float64Array.from(samples).sort();
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}

/** `producers` closed loops that add `count` jobs between them. */
export async function produce(count: number, producers: number, add: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(producers, count) }, async () => {
      for (let i = next++; i < count; i = next++) await add(i);
    }),
  );
}
