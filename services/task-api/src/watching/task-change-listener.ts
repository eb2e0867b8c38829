import { PgListener, TASK_CHANGED_CHANNEL, parseTaskChangeNotice, type ListenGap, type Logger, type TaskChangeNotice } from '@taskproc/core';

export interface TaskChangeListenerEvents {
  onNotice(notice: TaskChangeNotice): void;
  /**
   * Called each time the LISTEN is in place. After a reconnect,
   * `downForMs` says how long notices may have gone unheard (since the
   * connection was last known alive), so the caller re-reads what changed.
   */
  onListening(reconnect: ListenGap | null): void;
}

/**
 * The one PostgreSQL connection per task-api process that LISTENs on
 * taskproc_task_changed, whatever the number of watchers. PostgreSQL delivers
 * the notices on commit only, in commit order, so what arrives are changes
 * that really happened.
 */
export class TaskChangeListener extends PgListener {
  constructor(databaseUrl: string, events: TaskChangeListenerEvents, logger: Logger) {
    super({
      databaseUrl,
      connectTimeoutMs: 3_000,
      queryTimeoutMs: 5_000,
      closeTimeoutMs: 2_000,
      channels: [TASK_CHANGED_CHANNEL],
      applicationName: 'taskproc-task-api-watch',
      name: 'watch listener',
      logger,
      listeningMessage: 'listening for task changes',
      pingIntervalMs: 5_000,
      backoff: { baseMs: 400, maxMs: 10_000 },
      onNotice: (_channel, payload) => {
        const notice = parseTaskChangeNotice(payload);
        if (notice) events.onNotice(notice);
        else logger.warn({ payload }, 'unreadable task change notice ignored');
      },
      onListening: (reconnect) => events.onListening(reconnect),
    });
  }
}
