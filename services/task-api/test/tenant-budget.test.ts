import { describe, expect, it } from 'vitest';
import { TenantBudget } from '../src/limits/tenant-budget.js';
import { TenantStreamCap } from '../src/limits/tenant-stream-cap.js';

/** A clock the test moves by hand. */
function manualClock(start = 1_000) {
  const clock = { ms: start, now: () => clock.ms };
  return clock;
}

describe('TenantBudget', () => {
  it('grants a burst, then refuses with the whole seconds until the next request', () => {
    const clock = manualClock();
    const budget = new TenantBudget({ ratePerSecond: 2, burst: 3, now: clock.now });
    expect([budget.take('a'), budget.take('a'), budget.take('a')]).toEqual([0, 0, 0]);
    expect(budget.take('a')).toBe(1); // half a second away: at least 1
    clock.ms += 499;
    expect(budget.take('a')).toBe(1);
    clock.ms += 1;
    expect(budget.take('a')).toBe(0);
    expect(budget.take('a')).toBe(1);
  });

  it('computes retry-after from the refill time of a slow budget', () => {
    const clock = manualClock();
    // One request every 10 s (as 0.1 per second).
    const budget = new TenantBudget({ ratePerSecond: 0.1, burst: 1, now: clock.now });
    expect(budget.take('a')).toBe(0);
    expect(budget.take('a')).toBe(10);
    clock.ms += 2_500;
    expect(budget.take('a')).toBe(8); // 7.5 s left, rounded up
  });

  it('keeps tenants apart', () => {
    const clock = manualClock();
    const budget = new TenantBudget({ ratePerSecond: 1, burst: 1, now: clock.now });
    expect(budget.take('a')).toBe(0);
    expect(budget.take('a')).toBe(1);
    expect(budget.take('b')).toBe(0);
  });

  it('refills at most to the burst', () => {
    const clock = manualClock();
    const budget = new TenantBudget({ ratePerSecond: 10, burst: 2, now: clock.now });
    budget.take('a');
    clock.ms += 60_000;
    expect([budget.take('a'), budget.take('a'), budget.take('a')]).toEqual([0, 0, 1]);
  });

  it('drops the buckets of tenants idle long enough to have refilled', () => {
    const clock = manualClock();
    const budget = new TenantBudget({ ratePerSecond: 100, burst: 100, now: clock.now });
    for (let i = 0; i < 10_000; i++) budget.take(`tenant-${i}`);
    expect(budget.trackedTenants).toBe(10_000);
    clock.ms += 1_000; // every bucket is full again
    budget.take('busy');
    expect(budget.trackedTenants).toBe(1);
  });

  it('keeps the buckets of tenants still refilling', () => {
    const clock = manualClock();
    // Full again 10 s after the last request; idle buckets are looked for every 10 s.
    const budget = new TenantBudget({ ratePerSecond: 1, burst: 10, now: clock.now });
    budget.take('a');
    clock.ms += 9_000;
    for (let i = 0; i < 5; i++) budget.take('b');
    clock.ms += 1_000;
    budget.take('c'); // 'a' is full again: dropped; 'b' is at 6 of 10: kept
    expect(budget.trackedTenants).toBe(2);
    expect([1, 2, 3, 4, 5, 6].map(() => budget.take('b'))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(budget.take('b')).toBe(1);
  });
});

describe('TenantStreamCap', () => {
  it('caps each tenant and frees a slot once per release', () => {
    const cap = new TenantStreamCap(2);
    const first = cap.acquire('a')!;
    const second = cap.acquire('a')!;
    expect(cap.acquire('a')).toBeNull();
    expect(cap.acquire('b')).not.toBeNull();
    first();
    first();
    expect(cap.held('a')).toBe(1);
    expect(cap.acquire('a')).not.toBeNull();
    expect(cap.acquire('a')).toBeNull();
    second();
    expect(cap.held('a')).toBe(1);
  });

  it('forgets tenants holding nothing', () => {
    const cap = new TenantStreamCap(1);
    const release = cap.acquire('a')!;
    expect(cap.trackedTenants).toBe(1);
    release();
    expect(cap.trackedTenants).toBe(0);
  });
});
