import { PgListener, type Logger, type PgListenerConnection } from '@taskproc/core';

/**
 * The channel an insert into the outbox notifies when its earliest entry is
 * due later (see core's failures migration); the payload is in how many
 * milliseconds.
 */
export const OUTBOX_DUE_CHANNEL = 'taskproc_outbox_due';

export interface OutboxDueListenerOptions extends PgListenerConnection {
  logger: Logger;
  /** An entry committed somewhere is due in `delayMs`. */
  onDue(delayMs: number): void;
  /**
   * The LISTEN is in place (again). Notices sent while it was away are lost,
   * so the relay reads the next due time from the table once more.
   */
  onListening(): void;
}

/**
 * Hears of outbox entries with a future not_before that other processes
 * commit (a processor's failed attempt waits out its backoff there), so the
 * relay's one timer covers them too. While the connection is away, the
 * relay's safety-net poll still finds every entry.
 */
export class OutboxDueListener extends PgListener {
  constructor({ onDue, onListening, ...connection }: OutboxDueListenerOptions) {
    super({
      ...connection,
      channels: [OUTBOX_DUE_CHANNEL],
      applicationName: 'taskproc-task-api-outbox-listener',
      name: 'outbox due-time listener',
      pingIntervalMs: 10_000,
      backoff: { baseMs: 200, maxMs: 10_000 },
      onNotice: (_channel, payload) => {
        const delayMs = Number(payload);
        if (Number.isFinite(delayMs)) onDue(delayMs);
      },
      onListening: () => onListening(),
    });
  }
}
