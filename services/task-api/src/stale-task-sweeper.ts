import type { Logger, TaskStore } from '@taskproc/core';
import { PeriodicJob } from './periodic-job.js';

/**
 * Every so often, puts back in the outbox the tasks whose message the system
 * lost (TaskStore.requeueStale), so that every task answered 201 still
 * reaches a final state. Runs in every task-api process; two sweeping at
 * once at worst queue a task twice, and the processor's guarded claim makes
 * the second message a no-op. A failed sweep is logged at warn or error:
 * while sweeps fail, lost tasks are not recovered.
 */
export class StaleTaskSweeper {
  private readonly job: PeriodicJob;

  constructor(
    private readonly store: TaskStore,
    private readonly options: { intervalMs: number; onRequeued: () => void },
    private readonly logger: Logger,
  ) {
    this.job = new PeriodicJob('stale task sweep', options.intervalMs, () => this.sweep(), logger);
  }

  start(): void {
    this.job.start();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  private async sweep(): Promise<void> {
    const ids = await this.store.requeueStale();
    if (ids.length === 0) return;
    this.logger.warn({ count: ids.length, taskIds: ids.slice(0, 20) }, 'queued stale tasks again');
    this.options.onRequeued();
  }
}
