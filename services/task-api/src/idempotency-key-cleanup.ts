import type { Logger, TaskStore } from '@taskproc/core';
import { PeriodicJob } from './periodic-job.js';

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
 * other's rows. A failed round is logged at warn or error and retried the
 * next round.
 */
export class IdempotencyKeyCleanup {
  private readonly job: PeriodicJob;

  constructor(
    private readonly store: TaskStore,
    private readonly settings: IdempotencyKeyCleanupSettings,
    private readonly logger: Logger,
  ) {
    this.job = new PeriodicJob('idempotency key cleanup', settings.intervalMs, async () => {
      const deleted = await this.runOnce();
      if (deleted > 0) this.logger.debug({ deleted }, 'deleted expired idempotency keys');
    }, logger);
  }

  start(): void {
    this.job.start();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  /** One round: batches until one comes back short or the round's bound is reached. Returns the keys deleted. */
  async runOnce(): Promise<number> {
    let total = 0;
    for (let batch = 0; batch < this.settings.maxBatchesPerRound && !this.job.signal.aborted; batch++) {
      const deleted = await this.store.deleteExpiredIdempotencyKeys(this.settings.batchSize);
      total += deleted;
      if (deleted < this.settings.batchSize) break;
    }
    return total;
  }
}
