import { describe, expect, it } from 'vitest';
import { deepAtFor, statementsInFlight } from '../src/tasks/step-concurrency.js';

// The deep-queue rule: a processor holding few deliveries keeps two
// statements of a kind in flight (no step waits behind another); a loaded
// one keeps one, so steps gather into larger statements, unless a full
// statement's worth already waits.

const settings = { maxBatch: 100, maxInFlight: 2, deepAt: 50 };

describe('statementsInFlight', () => {
  it('allows every slot while the processor holds fewer deliveries than deepAt', () => {
    expect(statementsInFlight(0, 0, settings)).toBe(2);
    expect(statementsInFlight(1, 1, settings)).toBe(2);
    expect(statementsInFlight(49, 30, settings)).toBe(2);
  });

  it('allows one statement once the processor is loaded, while less than a full statement waits', () => {
    expect(statementsInFlight(50, 0, settings)).toBe(1);
    expect(statementsInFlight(100, 1, settings)).toBe(1);
    expect(statementsInFlight(500, 99, settings)).toBe(1);
  });

  it('allows the second statement when a full one waits, however loaded', () => {
    expect(statementsInFlight(50, 100, settings)).toBe(2);
    expect(statementsInFlight(500, 400, settings)).toBe(2);
  });
});

describe('deepAtFor', () => {
  it('is half the prefetch, rounded up, and at least one', () => {
    expect(deepAtFor(100)).toBe(50);
    expect(deepAtFor(500)).toBe(250);
    expect(deepAtFor(3)).toBe(2);
    expect(deepAtFor(1)).toBe(1);
  });
});
