import { Coalescer, isDatabaseUnavailable, type Task, type TaskStore } from '@taskproc/core';

export interface GroupCommitSettings {
  /** Most creates one statement inserts. */
  maxBatch: number;
  /** Create statements running at once; callers arriving meanwhile wait for the next one. */
  maxInFlight: number;
}

/**
 * Half the pool for create statements leaves the rest to the outbox relay,
 * reads and cancels. Fewer statements in flight make larger batches; a batch
 * of 500 (about 40 KB of small tasks) keeps one statement well under the
 * time of an fsync-bound commit per task.
 */
export function groupCommitSettings(databasePoolSize: number): GroupCommitSettings {
  return { maxBatch: 500, maxInFlight: Math.max(1, Math.floor(databasePoolSize / 2)) };
}

/**
 * Creates through group commit: concurrent CreateTask calls share one
 * statement that inserts their tasks and outbox entries and commits them
 * together (one fsync instead of one per task). Each caller is answered only
 * after that commit, so "201 means durably queued" holds as before. A lone
 * call goes out at once, alone, the way it always did.
 */
export function createGroupCommit(store: TaskStore, settings: GroupCommitSettings): (content: string, traceContext?: string | null) => Promise<Task> {
  const coalescer = new Coalescer(
    (items: { content: string; traceContext: string | null }[]) =>
      store.createManyWithOutboxEntries(items.map((i) => i.content), items.map((i) => i.traceContext)),
    {
    ...settings,
    // The database being down concerns every caller; anything else may be
    // one content's fault, so the batch is retried one by one.
    failsEveryone: isDatabaseUnavailable,
  });
  // traceContext: the create's W3C trace context, stored with its outbox entry (see create-tracing.ts).
  return (content, traceContext = null) => coalescer.submit({ content, traceContext });
}
