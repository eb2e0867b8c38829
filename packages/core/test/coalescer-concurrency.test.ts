import { describe, expect, it } from 'vitest';
import { Coalescer } from '@taskproc/core';

// A caller's rule for the batches in flight (inFlightNow): consulted each
// time a batch could start, with the calls waiting, and kept within
// 1..maxInFlight whatever it answers.

/** A batch function the test releases by hand, recording what it ran. */
function gatedBatches() {
  const batches: number[][] = [];
  const gates: (() => void)[] = [];
  const run = async (items: number[]) => {
    batches.push(items);
    await new Promise<void>((resolve) => gates.push(resolve));
    return items.map((i) => i * 10);
  };
  const release = async () => {
    gates.shift()!();
    // Let the finished batch settle and the next one start.
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { batches, gates, run, release };
}

describe('Coalescer concurrency rule', () => {
  it('sends a lone call at once even when the rule allows one batch only', () => {
    const gated = gatedBatches();
    const coalescer = new Coalescer(gated.run, { maxBatch: 10, maxInFlight: 2, inFlightNow: () => 1 });
    void coalescer.submit(1);
    expect(gated.batches).toEqual([[1]]);
  });

  it('holds calls behind the running batch while the rule says one, and lets a second batch go once it says two', async () => {
    const gated = gatedBatches();
    let allowed = 1;
    const seen: number[] = [];
    const coalescer = new Coalescer(gated.run, {
      maxBatch: 10,
      maxInFlight: 2,
      inFlightNow: (queued) => {
        seen.push(queued);
        return allowed;
      },
    });
    const results = [1, 2, 3].map((i) => coalescer.submit(i));
    expect(gated.batches).toEqual([[1]]);
    expect(coalescer.queued).toBe(2);
    allowed = 2;
    const fourth = coalescer.submit(4);
    expect(gated.batches).toEqual([[1], [2, 3, 4]]);
    // The rule was told how many calls waited each time.
    expect(seen).toContain(3);
    await gated.release();
    await gated.release();
    await expect(Promise.all([...results, fourth])).resolves.toEqual([10, 20, 30, 40]);
  });

  it('gathers the calls that arrive while the one allowed batch runs into the next', async () => {
    const gated = gatedBatches();
    const coalescer = new Coalescer(gated.run, { maxBatch: 3, maxInFlight: 2, inFlightNow: () => 1 });
    const results = [1, 2, 3, 4, 5].map((i) => coalescer.submit(i));
    expect(gated.batches).toEqual([[1]]);
    await gated.release();
    expect(gated.batches).toEqual([[1], [2, 3, 4]]);
    await gated.release();
    expect(gated.batches).toEqual([[1], [2, 3, 4], [5]]);
    await gated.release();
    await expect(Promise.all(results)).resolves.toEqual([10, 20, 30, 40, 50]);
  });

  it('never exceeds maxInFlight, nor stalls on an answer below one or not a number', async () => {
    for (const answer of [5, 0, -1, Number.NaN]) {
      const gated = gatedBatches();
      const coalescer = new Coalescer(gated.run, { maxBatch: 1, maxInFlight: 2, inFlightNow: () => answer });
      const results = [1, 2, 3].map((i) => coalescer.submit(i));
      const expected = answer >= 2 || Number.isNaN(answer) ? 2 : 1;
      expect(gated.batches.length, `rule answering ${answer}`).toBe(expected);
      while (gated.gates.length > 0) await gated.release();
      await expect(Promise.all(results)).resolves.toEqual([10, 20, 30]);
    }
  });
});
