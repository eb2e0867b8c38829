import { Coalescer, ResourceExhaustedError, isDatabaseUnavailable, type CreateOutcome, type NewTask, type TaskStore } from '@taskproc/core';

export interface GroupCommitSettings {
  /** Most creates one statement inserts. */
  maxBatch: number;
  /** Create statements running at once; callers arriving meanwhile wait for the next one. */
  maxInFlight: number;
  /** Creates waiting for a statement; past it a create is refused with RESOURCE_EXHAUSTED. */
  maxQueued: number;
}

/**
 * Half the pool for create statements leaves the rest to the outbox relay,
 * reads and cancels. Fewer statements in flight make larger batches; a batch
 * of 500 (about 40 KB of small tasks) keeps one statement well under the
 * time of an fsync-bound commit per task.
 */
export function groupCommitSettings(config: { databasePoolSize: number; createQueueLimit: number }): GroupCommitSettings {
  return { maxBatch: 500, maxInFlight: Math.max(1, Math.floor(config.databasePoolSize / 2)), maxQueued: config.createQueueLimit };
}

/**
 * Creates one task, or answers with the task of an earlier create with the
 * same request_id, or a conflict; `signal` (the request's) withdraws it
 * while it still waits for a statement.
 */
export type CreateTask = (item: NewTask, signal?: AbortSignal) => Promise<CreateOutcome>;

/**
 * Creates through group commit: concurrent CreateTask calls share one
 * statement that inserts their tasks and outbox entries and commits them
 * together (one fsync instead of one per task). Each caller is answered only
 * after that commit, so "201 means durably queued" holds as before. A lone
 * call goes out at once, alone, the way it always did. A batch may hold
 * creates of several tenants: each item carries its own. Two creates of one
 * tenant with one request_id in one batch are settled by the statement
 * itself (see task-creation.ts): one creates, the other repeats or conflicts.
 *
 * The wait is bounded twice: by `maxQueued` (a full queue answers
 * RESOURCE_EXHAUSTED at once, so a stalled database cannot pile up callers
 * and memory) and by each caller's deadline (its request's signal).
 */
export function createGroupCommit(store: TaskStore, settings: GroupCommitSettings): CreateTask {
  const coalescer = new Coalescer((items: NewTask[]) => store.createTasks(items), {
    ...settings,
    overloaded: () => new ResourceExhaustedError(`too many creates waiting (${settings.maxQueued}); retry later`),
    // The database being down concerns every caller; anything else may be
    // one content's fault, so the batch is retried one by one.
    failsEveryone: isDatabaseUnavailable,
  });
  return (item, signal) => coalescer.submit(item, signal);
}
