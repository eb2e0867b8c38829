import type { MikroORM } from '@mikro-orm/postgresql';
import { FailedPreconditionError, taskNotFound } from '../errors.js';
import { FAIL_SQL, RETRY_LATER_SQL } from './guarded-updates.js';
import { fromDatabaseTimestamp } from './micros-timestamp.type.js';
import { taskFromRow } from './task-row.js';
import type { TaskStoreObserver } from './task-store.js';
import type { Task } from './task.entity.js';
import { executeRaw } from './raw-statement.js';

/**
 * The changes of status of work that fails: the end of a failed attempt
 * (processor) and the retry of a failed task (task-api). Like TaskStore's,
 * each is one guarded statement whose WHERE clause states the status (and
 * for a processor, the attempt) it expects; zero rows is an answer. The
 * processor's changes name the task of a queue message and are not scoped;
 * a client's retry is scoped by its tenant.
 */
export class TaskFailureStore {
  /** `observer` is told of each change this store committed, as TaskStore's is (metrics). */
  constructor(
    private readonly orm: MikroORM,
    private readonly options: { observer?: TaskStoreObserver } = {},
  ) {}

  /**
   * processing -> pending after a failed attempt, while `attempt` still holds
   * the task: counts the failure, keeps its error, and queues the task again
   * through the outbox with a not-before time `delayMs` from now, in the
   * same statement. The wait holds no broker message and survives restarts;
   * queued_at is set to that time, so the stale-task sweeper does not take
   * the waiting task for a lost one. Returns false when the guard matched
   * nothing (the task was canceled or taken over meanwhile).
   */
  async retryLaterIfHeld(id: string, attempt: number, error: string, delayMs: number): Promise<boolean> {
    const rows = await this.execute(RETRY_LATER_SQL, [error, delayMs, id, attempt]);
    this.observe('pending', rows);
    return rows.length === 1;
  }

  /**
   * processing -> failed, while `attempt` still holds the task, with `error`
   * as the reason. `failedAttempt` says whether this ends a failed attempt
   * (the last one allowed) or gives up without running one (the crash-loop
   * cap, whose interruptions are not failed attempts). Returns false when the
   * guard matched nothing (canceled or taken over meanwhile).
   */
  async failIfHeld(id: string, attempt: number, error: string, { failedAttempt }: { failedAttempt: boolean }): Promise<boolean> {
    const rows = await this.execute(FAIL_SQL, [error, failedAttempt ? 1 : 0, id, attempt]);
    this.observe('failed', rows);
    return rows.length === 1;
  }

  /**
   * failed -> pending: an explicit retry of a task of `tenant`. The attempts
   * start again from zero (so the task gets TASK_MAX_ATTEMPTS more), the
   * error is cleared, and the task is queued through the outbox in the same
   * statement. Returns the pending task. Throws NotFoundError when that
   * tenant has no task with this id, FailedPreconditionError (naming the
   * status) when it is not failed.
   */
  async retryIfFailed(tenant: string, id: string): Promise<Task> {
    const [row] = await this.execute(
      `with t as (
         update task set status = 'pending', attempt = 0, failed_attempts = 0, error = null,
                updated_at = clock_timestamp(), queued_at = clock_timestamp()
          where id = ? and tenant = ? and status = 'failed'
          returning *),
       o as (insert into outbox (task_id) select id from t)
       select * from t`,
      [id, tenant],
    );
    if (row) {
      this.observe('pending', [row]);
      return taskFromRow(row);
    }
    const [current] = await this.execute(`select status from task where id = ? and tenant = ?`, [id, tenant]);
    if (!current) throw taskNotFound(id);
    throw new FailedPreconditionError(`task ${id} is ${String(current.status)}, not failed: only a failed task can be retried`);
  }

  private observe(status: 'pending' | 'failed', rows: Record<string, unknown>[]): void {
    if (rows.length === 0 || !this.options.observer) return;
    this.options.observer.transitioned(
      status,
      rows.map((row) => ({
        createdAt: fromDatabaseTimestamp(row.created_at as string | Date)!,
        updatedAt: fromDatabaseTimestamp(row.updated_at as string | Date | null),
        attempt: Number(row.attempt),
      })),
    );
  }

  private execute(sql: string, params: unknown[]): Promise<Record<string, unknown>[]> {
    return executeRaw(this.orm, sql, params);
  }
}
