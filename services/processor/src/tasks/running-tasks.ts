import type { AbortReason } from '../events.js';
import { DeliveryAborted } from './delivery-aborted.js';

export interface RunningDelivery {
  readonly taskId: string;
  /** Aborted when the task is canceled, the channel dies, or the shutdown grace runs out. */
  readonly signal: AbortSignal;
  /** Removes the delivery from the registry; call once, when it is settled. */
  finish(): void;
}

/**
 * The deliveries this processor is working on, by task id, so a cancel
 * notice (which names only the task) can reach the work it concerns. A task
 * id can appear more than once for a moment (a redelivered duplicate while
 * the aborted first delivery is still unwinding), hence a set per id.
 */
export class RunningTasks {
  private readonly byTaskId = new Map<string, Set<AbortController>>();

  start(taskId: string): RunningDelivery {
    const controller = new AbortController();
    let entries = this.byTaskId.get(taskId);
    if (!entries) {
      entries = new Set();
      this.byTaskId.set(taskId, entries);
    }
    entries.add(controller);
    return {
      taskId,
      signal: controller.signal,
      finish: () => {
        entries.delete(controller);
        if (entries.size === 0 && this.byTaskId.get(taskId) === entries) this.byTaskId.delete(taskId);
      },
    };
  }

  /** Aborts every delivery of one task; returns how many there were. */
  abortTask(taskId: string, reason: AbortReason): number {
    const entries = this.byTaskId.get(taskId);
    if (!entries) return 0;
    for (const controller of entries) controller.abort(new DeliveryAborted(reason));
    return entries.size;
  }

  abortAll(reason: AbortReason): void {
    for (const entries of this.byTaskId.values()) {
      for (const controller of entries) controller.abort(new DeliveryAborted(reason));
    }
  }

  taskIds(): string[] {
    return [...this.byTaskId.keys()];
  }
}
