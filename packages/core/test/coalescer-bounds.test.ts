import { describe, expect, it } from 'vitest';
import { Coalescer } from '@taskproc/core';

// The create coalescer's bounds: a full queue refuses at once, a caller
// whose deadline passes while it waits leaves the queue, and a failed batch
// is retried one item at a time, never all at once.

/** A batch function the test releases by hand, recording what it ran. */
function gatedBatches() {
  const batches: number[][] = [];
  const gates: (() => void)[] = [];
  let running = 0;
  let peakRunning = 0;
  const run = async (items: number[]) => {
    batches.push(items);
    running++;
    peakRunning = Math.max(peakRunning, running);
    await new Promise<void>((resolve) => gates.push(resolve));
    running--;
    return items.map((i) => i * 10);
  };
  return { batches, gates, run, peak: () => peakRunning };
}

describe('Coalescer bounds', () => {
  it('refuses a call at once when maxQueued calls already wait', async () => {
    const gated = gatedBatches();
    const coalescer = new Coalescer(gated.run, { maxBatch: 10, maxInFlight: 1, maxQueued: 2, overloaded: () => new Error('full') });
    const running = coalescer.submit(1); // goes out at once
    const waiting = [coalescer.submit(2), coalescer.submit(3)];
    await expect(coalescer.submit(4)).rejects.toThrow('full');
    expect(coalescer.queued).toBe(2);
    gated.gates.shift()!();
    await expect(running).resolves.toBe(10);
    await new Promise((resolve) => setImmediate(resolve));
    gated.gates.shift()!();
    await expect(Promise.all(waiting)).resolves.toEqual([20, 30]);
    expect(gated.batches).toEqual([[1], [2, 3]]);
  });

  it('drops a waiting call whose signal aborts, with the signal reason, and never runs it', async () => {
    const gated = gatedBatches();
    const coalescer = new Coalescer(gated.run, { maxBatch: 10, maxInFlight: 1 });
    const running = coalescer.submit(1);
    const deadline = new AbortController();
    const late = coalescer.submit(2, deadline.signal);
    const kept = coalescer.submit(3);
    deadline.abort(new Error('deadline passed'));
    await expect(late).rejects.toThrow('deadline passed');
    expect(coalescer.queued).toBe(1);
    await expect(coalescer.submit(4, deadline.signal)).rejects.toThrow('deadline passed');
    gated.gates.shift()!();
    await running;
    await new Promise((resolve) => setImmediate(resolve));
    gated.gates.shift()!();
    await expect(kept).resolves.toBe(30);
    expect(gated.batches).toEqual([[1], [3]]);
  });

  it('retries a failed batch one item at a time, and stops at an error that concerns everyone', async () => {
    let running = 0;
    let peak = 0;
    const calls: string[][] = [];
    const coalescer = new Coalescer(
      async (items: string[]) => {
        calls.push(items);
        running++;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running--;
        if (items.length > 1) throw new Error('one of these is bad');
        if (items[0] === 'bad') throw new Error('bad item');
        if (items[0] === 'outage') throw new Error('database down');
        return items.map((i) => i.toUpperCase());
      },
      { maxBatch: 10, maxInFlight: 1, failsEveryone: (error) => (error as Error).message === 'database down' },
    );
    const first = coalescer.submit('first');
    const batch = ['a', 'bad', 'b', 'outage', 'never', 'run'].map((item) => coalescer.submit(item));
    await first;
    const results = await Promise.allSettled(batch);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
      'A',
      'bad item',
      'B',
      'database down',
      'database down',
      'database down',
    ]);
    // Never more than one statement at a time (maxInFlight), retries included.
    expect(peak).toBe(1);
    expect(calls).toEqual([['first'], ['a', 'bad', 'b', 'outage', 'never', 'run'], ['a'], ['bad'], ['b'], ['outage']]);
  });
});
