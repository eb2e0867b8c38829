import type { TaskStatusName } from '../status.js';
import { fromDatabaseTimestamp } from './micros-timestamp.type.js';
import type { Task } from './task.entity.js';

/**
 * A task from a `returning *` row of the task table, with the same fields and
 * timestamp form as the ORM's mapping (MicrosTimestampType) gives, without
 * the cost of an EntityManager per row on the hot paths.
 */
export function taskFromRow(row: Record<string, unknown>): Task {
  // Every statement that maps its rows here returns the whole row; a row
  // without its tenant is a statement's bug, never a task of no one.
  if (typeof row.tenant !== 'string') throw new Error(`task row ${String(row.id)} read without its tenant`);
  return {
    id: String(row.id),
    tenant: row.tenant,
    content: String(row.content),
    status: row.status as TaskStatusName,
    attempt: Number(row.attempt),
    createdAt: fromDatabaseTimestamp(row.created_at as string | Date)!,
    updatedAt: fromDatabaseTimestamp(row.updated_at as string | Date | null),
    error: (row.error as string | null | undefined) ?? null,
    scheduleTime: fromDatabaseTimestamp((row.schedule_time as string | Date | null | undefined) ?? null),
  };
}
