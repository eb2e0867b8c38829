import type { MikroORM } from '@mikro-orm/postgresql';
import { taskNotFound } from '../errors.js';
import type { TaskStatusName } from '../status.js';
import { fromDatabaseTimestamp } from './micros-timestamp.type.js';
import { taskFromRow } from './task-row.js';
import type { Task } from './task.entity.js';
import { executeRaw } from './raw-statement.js';

/** Where a listing page starts: strictly after this task in (created_at, id) descending order. */
export interface ListPosition {
  /** Canonical timestamp (six fractional digits, "Z"). */
  createdAt: string;
  id: string;
}

export interface ListQuery {
  /** Only this tenant's tasks are listed. */
  tenant: string;
  status: TaskStatusName | null;
  after: ListPosition | null;
  /** Tasks on the page, at least 1. */
  limit: number;
}

export interface ListPage {
  tasks: Task[];
  /** The position after the last task of this page, or null when this was the last page. */
  next: ListPosition | null;
}

/** One change of status as the database recorded it (task_transition). */
export interface TaskEventRecord {
  status: TaskStatusName;
  attempt: number;
  /** Canonical timestamp. */
  at: string;
  error: string | null;
}

/**
 * Reads for listing tasks and their histories, of one tenant each. Listing
 * is keyset paging on (created_at, id), newest first, so a deep page costs
 * what the first one does: a row comparison the indexes task (tenant,
 * created_at desc, id desc) and task (tenant, status, created_at desc, id
 * desc) serve directly, never an OFFSET.
 */
export class TaskListing {
  constructor(private readonly orm: MikroORM) {}

  /**
   * One page of `limit` tasks. Reads one row more than asked to tell whether
   * another page follows, so the last page says so itself (no empty page at
   * the end of a walk).
   */
  async page(query: ListQuery): Promise<ListPage> {
    const conditions: string[] = ['tenant = ?'];
    const params: unknown[] = [query.tenant];
    // Two statement shapes (with and without the status), never an
    // "? is null or status = ?" that would keep the planner from the index.
    if (query.status !== null) {
      conditions.push('status = ?');
      params.push(query.status);
    }
    if (query.after !== null) {
      conditions.push('(created_at, id) < (?::timestamptz, ?::uuid)');
      params.push(query.after.createdAt, query.after.id);
    }
    params.push(query.limit + 1);
    const rows = await this.execute(`select * from task where ${conditions.join(' and ')} order by created_at desc, id desc limit ?`, params);
    const tasks = rows.slice(0, query.limit).map(taskFromRow);
    const last = tasks.at(-1);
    return { tasks, next: rows.length > query.limit && last ? { createdAt: last.createdAt, id: last.id } : null };
  }

  /**
   * The task's history, oldest first: its creation and every change of
   * status, re-claims included (same status, attempt + 1), as the transition
   * trigger recorded them. Throws NotFoundError when `tenant` has no task
   * with this id (every task has at least its creation event).
   */
  async events(tenant: string, taskId: string): Promise<TaskEventRecord[]> {
    const rows = await this.execute(
      `select tt.to_status, tt.attempt, tt.at, tt.error
         from task_transition tt join task t on t.id = tt.task_id
        where tt.task_id = ? and t.tenant = ? order by tt.id`,
      [taskId, tenant],
    );
    if (rows.length === 0) throw taskNotFound(taskId);
    return rows.map((row) => ({
      status: row.to_status as TaskStatusName,
      attempt: Number(row.attempt),
      at: fromDatabaseTimestamp(row.at as string | Date)!,
      error: (row.error as string | null) ?? null,
    }));
  }

  private execute(sql: string, params: unknown[]): Promise<Record<string, unknown>[]> {
    return executeRaw(this.orm, sql, params);
  }
}
