/**
 * Group commit: coalesces concurrent calls into batches, so that N callers
 * arriving together cost one statement (and one fsync) instead of N.
 *
 * A call goes out at once when fewer than `maxInFlight` batches are running,
 * so an idle system adds no latency; under load, calls queue while the
 * running batches finish and leave together in the next one (up to
 * `maxBatch`). Each caller is answered only when its batch has finished, with
 * its own result: `runBatch` returns one result per item, in item order.
 *
 * Bounds: at most `maxQueued` calls wait for a batch (past it `submit`
 * rejects at once with `overloaded()`), and a call whose signal aborts while
 * it waits leaves the queue with the signal's reason. A call already in a
 * running batch is answered when the batch ends.
 *
 * When a batch of several items fails, the error might belong to one item
 * only (e.g. a value the database refuses), so each item is run again alone,
 * one after the other within the failed batch's slot (the retries never add
 * to the statements in flight), and gets its own answer. When
 * `failsEveryone(error)` says the error concerns them all (the database is
 * down) all get it at once, and a retry failing that way ends the retries.
 */
export interface CoalescerOptions {
  maxBatch: number;
  maxInFlight: number;
  /**
   * Batches allowed in flight right now, given the calls waiting; consulted
   * each time one could start, clamped to 1..maxInFlight (maxInFlight when
   * left out or not a number). Lets a caller trade latency for larger
   * batches while its load is high, and only then.
   */
  inFlightNow?: (queued: number) => number;
  /** Calls that may wait for a batch; unbounded when left out. */
  maxQueued?: number;
  /** The error a call gets when the queue is full. */
  overloaded?: () => Error;
  failsEveryone?: (error: unknown) => boolean;
}

interface Pending<In, Out> {
  item: In;
  resolve: (value: Out) => void;
  reject: (error: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export class Coalescer<In, Out> {
  private readonly queue: Pending<In, Out>[] = [];
  private inFlight = 0;

  constructor(
    private readonly runBatch: (items: In[]) => Promise<Out[]>,
    private readonly options: CoalescerOptions,
  ) {
    if (options.maxBatch < 1 || options.maxInFlight < 1) throw new RangeError('maxBatch and maxInFlight must be at least 1');
    if (options.maxQueued !== undefined && options.maxQueued < 0) throw new RangeError('maxQueued must not be negative');
  }

  /** Calls waiting for a batch now. */
  get queued(): number {
    return this.queue.length;
  }

  submit(item: In, signal?: AbortSignal): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const mustWait = this.inFlight >= this.inFlightLimit();
      if (mustWait && this.queue.length >= (this.options.maxQueued ?? Infinity)) {
        reject(this.options.overloaded?.() ?? new Error('too many calls waiting'));
        return;
      }
      const pending: Pending<In, Out> = { item, resolve, reject, signal };
      if (signal) {
        pending.onAbort = () => {
          const index = this.queue.indexOf(pending);
          if (index < 0) return; // already in a batch: answered when it ends
          this.queue.splice(index, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      this.queue.push(pending);
      this.pump();
    });
  }

  /** The limit in force now: the caller's rule, never below one nor above maxInFlight. */
  private inFlightLimit(): number {
    const { maxInFlight, inFlightNow } = this.options;
    const now = inFlightNow ? Math.floor(inFlightNow(this.queue.length)) : maxInFlight;
    // A rule answering NaN must not stall the queue for good.
    return Number.isNaN(now) ? maxInFlight : Math.min(maxInFlight, Math.max(1, now));
  }

  private pump(): void {
    while (this.queue.length > 0 && this.inFlight < this.inFlightLimit()) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      for (const p of batch) if (p.onAbort) p.signal!.removeEventListener('abort', p.onAbort);
      this.inFlight++;
      void this.settle(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async settle(batch: Pending<In, Out>[]): Promise<void> {
    try {
      const results = await this.runBatch(batch.map((p) => p.item));
      batch.forEach((p, i) => p.resolve(results[i]!));
    } catch (error) {
      if (batch.length === 1 || this.options.failsEveryone?.(error)) {
        for (const p of batch) p.reject(error);
        return;
      }
      await this.retryOneByOne(batch);
    }
  }

  private async retryOneByOne(batch: Pending<In, Out>[]): Promise<void> {
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!;
      // The caller gave up meanwhile (its deadline): no statement for it.
      if (p.signal?.aborted) {
        p.reject(p.signal.reason);
        continue;
      }
      try {
        p.resolve((await this.runBatch([p.item]))[0]!);
      } catch (error) {
        p.reject(error);
        if (this.options.failsEveryone?.(error)) {
          for (const rest of batch.slice(i + 1)) rest.reject(error);
          return;
        }
      }
    }
  }
}
