import type { MikroORM } from '@mikro-orm/postgresql';
import type { TaskStatusName } from '../status.js';
import { fromDatabaseTimestamp } from './micros-timestamp.type.js';
import { taskFromRow } from './task-row.js';
import type { Task } from './task.entity.js';
import { executeRaw } from './raw-statement.js';

/** The channel the transition trigger notifies on every insert and change of status of a task. */
export const TASK_CHANGED_CHANNEL = 'taskproc_task_changed';

/** The payload of a taskproc_task_changed notice (see the round-2 contract and tenants migrations). */
export interface TaskChangeNotice {
  id: string;
  /** The tenant of the task, so fan-out skips changes no watcher of that tenant wants. */
  tenant: string;
  status: TaskStatusName;
  attempt: number;
  /** The task_transition row id of the change. */
  transition: number;
}

/** A change of a task and the task as it was right after it. */
export interface TaskChange {
  transition: number;
  task: Task;
}

/** Parses a notice payload; null for anything that is not one (never trusted blindly). */
export function parseTaskChangeNotice(payload: string | undefined): TaskChangeNotice | null {
  if (!payload) return null;
  try {
    const value = JSON.parse(payload) as Partial<TaskChangeNotice>;
    if (typeof value.id !== 'string' || typeof value.tenant !== 'string' || typeof value.status !== 'string') return null;
    if (!Number.isSafeInteger(value.transition) || !Number.isSafeInteger(value.attempt)) return null;
    return value as TaskChangeNotice;
  } catch {
    return null;
  }
}

// Each change row carries the task's row and whether this transition is the
// task's latest. When it is, the row is exactly the task after the change.
// When the task has moved on since (the read came after a later commit), the
// task after this change is rebuilt from the transition: its status, attempt
// and error, and the transition's time as updated_at (recorded by the
// trigger within microseconds of the update's own clock reading).
const CHANGE_COLUMNS = `tt.id as transition_id, tt.from_status, tt.to_status, tt.attempt as transition_attempt,
       tt.at as transition_at, tt.error as transition_error, t.*,
       (select max(x.id) from task_transition x where x.task_id = t.id) as latest_transition`;

/** A task as one watcher may see it: its id within its watcher's tenant. */
export interface TenantTaskId {
  tenant: string;
  id: string;
}

/**
 * Reads behind watching: the task with its latest transition, and changes by
 * transition id, as the transition trigger recorded them. One statement each
 * (one snapshot), on the ORM's pool.
 *
 * The first read of a watch (currentMany) answers a client and is scoped by
 * its tenant in SQL. The fan-out reads serve every watcher of the process at
 * once, whatever their tenants; each change carries its task's tenant (as
 * the row says), and the hub gives it only to watchers of that tenant.
 */
export class TaskChangeReader {
  constructor(private readonly orm: MikroORM) {}

  /**
   * Each task now and the id of its latest transition, by id, each looked
   * for within the tenant asking; an id that tenant has no task with is left
   * out. (Ids are unique across tenants: at most one asker finds a task.)
   */
  async currentMany(wanted: readonly TenantTaskId[]): Promise<Map<string, TaskChange>> {
    const rows = await this.execute(
      `select t.*, (select max(x.id) from task_transition x where x.task_id = t.id) as latest_transition
         from task t join json_to_recordset(?::json) as w(id uuid, tenant text) on t.id = w.id and t.tenant = w.tenant`,
      [JSON.stringify(wanted.map(({ id, tenant }) => ({ id, tenant })))],
    );
    return new Map(rows.map((row) => [String(row.id), { transition: Number(row.latest_transition ?? 0), task: taskFromRow(row) }]));
  }

  /** The changes with these transition ids (in id order; ids of deleted tasks are left out). */
  async byTransitionIds(ids: readonly number[]): Promise<TaskChange[]> {
    if (ids.length === 0) return [];
    const rows = await this.execute(
      `select ${CHANGE_COLUMNS} from task_transition tt join task t on t.id = tt.task_id
        where tt.id = any(?::bigint[]) order by tt.id`,
      [`{${ids.join(',')}}`],
    );
    return rows.map(changeFromRow);
  }

  /**
   * The id below which every transition was recorded more than `ageMs` ago:
   * a backward scan of the primary key that stops at the first old row, so it
   * costs the rows of the window, whatever the table's size.
   */
  async transitionIdOlderThan(ageMs: number): Promise<number> {
    const [row] = await this.execute(
      `select coalesce(max(id), 0) as id from task_transition where at < clock_timestamp() - ?::interval`,
      [`${Math.max(0, Math.round(ageMs))} milliseconds`],
    );
    return Number(row?.id ?? 0);
  }

  /**
   * Up to `limit` changes with a transition id above `afterId`, in id order,
   * of every task of `scope.tenants` and of the tasks `scope.taskIds`.
   */
  async after(afterId: number, limit: number, scope: { tenants: readonly string[]; taskIds: readonly string[] }): Promise<TaskChange[]> {
    const rows = await this.execute(
      `select ${CHANGE_COLUMNS} from task_transition tt join task t on t.id = tt.task_id
        where tt.id > ? and (t.tenant = any(array(select json_array_elements_text(?::json))) or tt.task_id = any(?::uuid[]))
        order by tt.id limit ?`,
      [afterId, JSON.stringify(scope.tenants), `{${scope.taskIds.join(',')}}`, limit],
    );
    return rows.map(changeFromRow);
  }

  private execute(sql: string, params: unknown[]): Promise<Record<string, unknown>[]> {
    return executeRaw(this.orm, sql, params);
  }
}

function changeFromRow(row: Record<string, unknown>): TaskChange {
  const transition = Number(row.transition_id);
  const now = taskFromRow(row);
  if (Number(row.latest_transition) === transition) return { transition, task: now };
  const status = row.to_status as TaskStatusName;
  return {
    transition,
    task: {
      ...now,
      status,
      attempt: Number(row.transition_attempt),
      // The creation event: no change of status yet.
      updatedAt: row.from_status === null ? null : fromDatabaseTimestamp(row.transition_at as string | Date),
      error: (row.transition_error as string | null) ?? null,
    },
  };
}
