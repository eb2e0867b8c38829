import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { TaskSchema, TaskStatus } from '@taskproc/contract';
import { describe, expect, it } from 'vitest';
import { LatencyWindow, RateWindow, processingLatencyMs, rateKindOf } from '../src/rates.js';

const T0 = 1_764_576_000_000; // a whole second

function task(status: TaskStatus, createdMs: number, updatedMs?: number) {
  return create(TaskSchema, {
    id: 'x',
    status,
    createdAt: timestampFromMs(createdMs),
    updatedAt: updatedMs === undefined ? undefined : timestampFromMs(updatedMs),
  });
}

describe('rateKindOf', () => {
  it('counts a creation (pending, never changed), final statuses, and nothing else', () => {
    expect(rateKindOf(task(TaskStatus.PENDING, T0))).toBe('created');
    // A retry or a failed attempt that is due again: pending, but changed.
    expect(rateKindOf(task(TaskStatus.PENDING, T0, T0 + 5))).toBeUndefined();
    expect(rateKindOf(task(TaskStatus.PROCESSING, T0, T0 + 5))).toBeUndefined();
    expect(rateKindOf(task(TaskStatus.COMPLETED, T0, T0 + 5))).toBe('completed');
    expect(rateKindOf(task(TaskStatus.CANCELED, T0, T0 + 5))).toBe('canceled');
    expect(rateKindOf(task(TaskStatus.FAILED, T0, T0 + 5))).toBe('failed');
  });
});

describe('RateWindow', () => {
  it('buckets by second, excludes the current partial second, and fills gaps with zeros', () => {
    const rates = new RateWindow(5);
    rates.record('created', T0 + 100);
    rates.record('created', T0 + 900);
    rates.record('completed', T0 + 2_500);
    const series = rates.series(T0 + 3_200);
    expect(series.seconds).toEqual([-2, -1, 0, 1, 2].map((d) => T0 / 1000 + d));
    expect(series.counts.created).toEqual([0, 0, 2, 0, 0]);
    expect(series.counts.completed).toEqual([0, 0, 0, 0, 1]);
    expect(series.counts.failed).toEqual([0, 0, 0, 0, 0]);
  });

  it('gives the mean per second over the last complete seconds', () => {
    const rates = new RateWindow(60);
    for (let i = 0; i < 30; i += 1) rates.record('completed', T0 + i * 100); // 30 in 3 s
    expect(rates.perSecond('completed', T0 + 10_000, 10)).toBeCloseTo(3);
    expect(rates.perSecond('created', T0 + 10_000, 10)).toBe(0);
  });

  it('forgets what is older than its window', () => {
    const rates = new RateWindow(5);
    rates.record('failed', T0);
    expect(rates.series(T0 + 60_000).counts.failed.every((n) => n === 0)).toBe(true);
    expect(rates.perSecond('failed', T0 + 2_000, 5)).toBe(0);
  });
});

describe('latency', () => {
  it('is created_at to updated_at of a completed or failed task', () => {
    expect(processingLatencyMs(task(TaskStatus.COMPLETED, T0, T0 + 1_250))).toBe(1_250);
    expect(processingLatencyMs(task(TaskStatus.FAILED, T0, T0 + 40))).toBe(40);
    expect(processingLatencyMs(task(TaskStatus.CANCELED, T0, T0 + 40))).toBeUndefined();
    expect(processingLatencyMs(task(TaskStatus.PROCESSING, T0, T0 + 40))).toBeUndefined();
  });

  it('takes nearest-rank percentiles over its window', () => {
    const window = new LatencyWindow(60_000);
    expect(window.percentile(50, T0)).toBeUndefined();
    for (let i = 1; i <= 100; i += 1) window.record(i * 10, T0);
    expect(window.percentile(50, T0)).toBe(500);
    expect(window.percentile(99, T0)).toBe(990);
    expect(window.percentile(100, T0)).toBe(1000);
    window.record(5, T0 + 59_000);
    expect(window.count(T0 + 61_000)).toBe(1);
    expect(window.percentile(99, T0 + 61_000)).toBe(5);
  });
});
