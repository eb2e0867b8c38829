import { UnavailableError, isDatabaseUnavailable, sleep, type Logger, type TaskStore } from '@taskproc/core';

/**
 * Every so often, puts back in the outbox the tasks whose message the system
 * lost (TaskStore.requeueStale), so that every task answered 201 still
 * reaches a final state. Runs in every task-api process; two sweeping at
 * once at worst queue a task twice, and the processor's guarded claim makes
 * the second message a no-op.
 */
export class StaleTaskSweeper {
  private readonly stopController = new AbortController();
  private running: Promise<void> | null = null;

  constructor(
    private readonly store: TaskStore,
    private readonly options: { intervalMs: number; onRequeued: () => void },
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.stopController.abort();
    await this.running;
  }

  private async loop(): Promise<void> {
    const { signal } = this.stopController;
    while (!signal.aborted) {
      await sleep(this.options.intervalMs, signal).catch(() => undefined);
      if (signal.aborted) break;
      try {
        const ids = await this.store.requeueStale();
        if (ids.length > 0) {
          this.logger.warn({ count: ids.length, taskIds: ids.slice(0, 20) }, 'queued stale tasks again');
          this.options.onRequeued();
        }
      } catch (error) {
        // The next round tries again. Logged where an operator sees it: while
        // sweeps fail, lost tasks are not recovered.
        const outage = error instanceof UnavailableError || isDatabaseUnavailable(error);
        const fields = { err: error, retryInMs: this.options.intervalMs };
        if (outage) this.logger.warn(fields, 'stale task sweep failed: the database is unavailable');
        else this.logger.error(fields, 'stale task sweep failed');
      }
    }
  }
}
