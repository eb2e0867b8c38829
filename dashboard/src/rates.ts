import { TaskStatus, type Task } from '@taskproc/contract';
import { millisOf } from './time.js';

// Live rates and latency from the WatchTasks stream, counted in the browser:
// one bucket per second over a sliding window. The stream carries every
// change of status with the task as it is after it, so a creation is a
// pending task never changed yet, and a final change carries both
// created_at and updated_at: its create-to-final latency needs no other call.

export const RATE_KINDS = ['created', 'completed', 'canceled', 'failed'] as const;
export type RateKind = (typeof RATE_KINDS)[number];

/** What a change means for the rates; undefined for changes that are not counted (claims, retries, failed attempts). */
export function rateKindOf(task: Pick<Task, 'status' | 'updatedAt'>): RateKind | undefined {
  switch (task.status) {
    case TaskStatus.PENDING:
      return task.updatedAt === undefined ? 'created' : undefined;
    case TaskStatus.COMPLETED:
      return 'completed';
    case TaskStatus.CANCELED:
      return 'canceled';
    case TaskStatus.FAILED:
      return 'failed';
    default:
      return undefined;
  }
}

export interface RateSeries {
  /** Bucket start times in seconds (uPlot's x axis), oldest first. */
  seconds: number[];
  counts: Record<RateKind, number[]>;
}

export class RateWindow {
  private readonly buckets = new Map<number, Record<RateKind, number>>();

  constructor(readonly windowSeconds = 300) {}

  record(kind: RateKind, atMs: number): void {
    const second = Math.floor(atMs / 1000);
    let bucket = this.buckets.get(second);
    if (!bucket) {
      bucket = { created: 0, completed: 0, canceled: 0, failed: 0 };
      this.buckets.set(second, bucket);
    }
    bucket[kind] += 1;
    this.prune(second);
  }

  /** Per-second counts for every second of the window up to nowMs (the current, partial second excluded). */
  series(nowMs: number): RateSeries {
    const last = Math.floor(nowMs / 1000) - 1;
    this.prune(last + 1);
    const seconds: number[] = [];
    const counts = { created: [], completed: [], canceled: [], failed: [] } as Record<RateKind, number[]>;
    for (let second = last - this.windowSeconds + 1; second <= last; second += 1) {
      seconds.push(second);
      const bucket = this.buckets.get(second);
      for (const kind of RATE_KINDS) counts[kind].push(bucket?.[kind] ?? 0);
    }
    return { seconds, counts };
  }

  /** Mean per second over the last `seconds` complete seconds. */
  perSecond(kind: RateKind, nowMs: number, seconds = 10): number {
    const last = Math.floor(nowMs / 1000) - 1;
    let total = 0;
    for (let second = last - seconds + 1; second <= last; second += 1) total += this.buckets.get(second)?.[kind] ?? 0;
    return total / seconds;
  }

  private prune(currentSecond: number): void {
    const oldest = currentSecond - this.windowSeconds;
    for (const second of this.buckets.keys()) if (second < oldest) this.buckets.delete(second);
  }
}

/** Create-to-final latency of a task that just reached completed or failed; undefined otherwise. */
export function processingLatencyMs(task: Pick<Task, 'status' | 'createdAt' | 'updatedAt'>): number | undefined {
  if (task.status !== TaskStatus.COMPLETED && task.status !== TaskStatus.FAILED) return undefined;
  const created = millisOf(task.createdAt);
  const finished = millisOf(task.updatedAt);
  if (created === undefined || finished === undefined) return undefined;
  return Math.max(0, finished - created);
}

/** Latencies seen over a sliding window, with nearest-rank percentiles. */
export class LatencyWindow {
  private samples: { atMs: number; latencyMs: number }[] = [];

  constructor(
    readonly windowMs = 300_000,
    readonly maxSamples = 50_000,
  ) {}

  record(latencyMs: number, atMs: number): void {
    this.samples.push({ atMs, latencyMs });
    if (this.samples.length > this.maxSamples) this.samples.splice(0, this.samples.length - this.maxSamples);
  }

  /** p in (0, 100]; undefined with no samples in the window. */
  percentile(p: number, nowMs: number): number | undefined {
    const values = this.current(nowMs);
    if (values.length === 0) return undefined;
    values.sort((a, b) => a - b);
    const rank = Math.max(1, Math.ceil((p / 100) * values.length));
    return values[rank - 1];
  }

  count(nowMs: number): number {
    return this.current(nowMs).length;
  }

  private current(nowMs: number): number[] {
    const oldest = nowMs - this.windowMs;
    if (this.samples.length > 0 && this.samples[0]!.atMs < oldest) {
      this.samples = this.samples.filter((sample) => sample.atMs >= oldest);
    }
    return this.samples.map((sample) => sample.latencyMs);
  }
}
