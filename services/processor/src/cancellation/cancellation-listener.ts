import { PgListener, type Logger, type PgListenerConnection } from '@taskproc/core';

/**
 * The channel the task trigger notifies when a task becomes canceled, with
 * the task id as payload (see core's transitions migration).
 */
export const TASK_CANCELED_CHANNEL = 'taskproc_task_canceled';

export interface CancellationListenerOptions extends PgListenerConnection {
  logger: Logger;
  onCancel: (taskId: string) => void;
  /**
   * Called each time the LISTEN is in place. After a reconnect the notices
   * sent while we were away are lost, so the caller re-checks the tasks it holds.
   */
  onListening: (reconnected: boolean) => void;
}

/**
 * The processor's LISTEN for cancels. PostgreSQL sends a notice only when the
 * cancel's transaction commits, so every notice names a task that is really
 * canceled. `ready` resolves once the first LISTEN is in place.
 */
export class CancellationListener extends PgListener {
  constructor({ onCancel, onListening, ...connection }: CancellationListenerOptions) {
    super({
      ...connection,
      channels: [TASK_CANCELED_CHANNEL],
      applicationName: 'taskproc-processor-listener',
      name: 'cancellation listener',
      listeningMessage: 'listening for cancels',
      pingIntervalMs: 10_000,
      backoff: { baseMs: 200, maxMs: 10_000 },
      onNotice: (_channel, taskId) => {
        if (taskId) onCancel(taskId);
      },
      onListening: (gap) => onListening(gap !== null),
    });
  }
}
