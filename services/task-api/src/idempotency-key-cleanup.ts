import { sleep, type Logger, type TaskStore } from '@taskproc/core';

export interface IdempotencyKeyCleanupSettings {
  intervalMs: number;
  /** Keys one DELETE removes: short statements that hold few row locks. */
  batchSize: number;
  /** Statements per round at most, so a backlog is worked off over several rounds. */
  maxBatchesPerRound: number;
}

/**
 * Deletes expired idempotency keys every so often, a bounded batch per
 * statement (TaskStore.deleteExpiredIdempotencyKeys: row locks with SKIP
 * LOCKED, never a table lock). An expired key is already free before this
 * runs (the next create with it takes it over); the cleanup only keeps the
 * table small. Runs in every task-api process: two at once skip each
 * other's rows.
 */
export class IdempotencyKeyCleanup {
  private readonly stopController = new AbortController();
  private running: Promise<void> | null = null;

  constructor(
    private readonly store: TaskStore,
    private readonly settings: IdempotencyKeyCleanupSettings,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.stopController.abort();
    await this.running;
  }

  /** One round: batches until one comes back short or the round's bound is reached. Returns the keys deleted. */
  async runOnce(): Promise<number> {
    let total = 0;
    for (let batch = 0; batch < this.settings.maxBatchesPerRound && !this.stopController.signal.aborted; batch++) {
      const deleted = await this.store.deleteExpiredIdempotencyKeys(this.settings.batchSize);
      total += deleted;
      if (deleted < this.settings.batchSize) break;
    }
    return total;
  }

  private async loop(): Promise<void> {
    const { signal } = this.stopController;
    while (!signal.aborted) {
      await sleep(this.settings.intervalMs, signal).catch(() => undefined);
      if (signal.aborted) break;
      try {
        const deleted = await this.runOnce();
        if (deleted > 0) this.logger.debug({ deleted }, 'deleted expired idempotency keys');
      } catch (error) {
        // The next round tries again; an outage is reported by health checks.
        this.logger.debug({ err: error }, 'idempotency key cleanup failed');
      }
    }
  }
}
