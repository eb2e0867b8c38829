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
 * When a batch of several items fails, the error might belong to one item
 * only (e.g. a value the database refuses), so each item is run again alone
 * and gets its own answer, unless `failsEveryone(error)` says the error
 * concerns them all (the database is down), in which case all get it.
 */
export interface CoalescerOptions {
  maxBatch: number;
  maxInFlight: number;
  failsEveryone?: (error: unknown) => boolean;
}

interface Pending<In, Out> {
  item: In;
  resolve: (value: Out) => void;
  reject: (error: unknown) => void;
}

export class Coalescer<In, Out> {
  private readonly queue: Pending<In, Out>[] = [];
  private inFlight = 0;

  constructor(
    private readonly runBatch: (items: In[]) => Promise<Out[]>,
    private readonly options: CoalescerOptions,
  ) {
    if (options.maxBatch < 1 || options.maxInFlight < 1) throw new RangeError('maxBatch and maxInFlight must be at least 1');
  }

  submit(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
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
      await Promise.all(batch.map((p) => this.runBatch([p.item]).then((r) => p.resolve(r[0]!), p.reject)));
    }
  }
}
