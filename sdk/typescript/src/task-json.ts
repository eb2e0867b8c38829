import type { Timestamp } from '@bufbuild/protobuf/wkt';
import { TaskStatus, type Task } from '@taskproc/contract';

/** The status names of the REST contract, lower case. */
export type TaskStatusName = 'pending' | 'processing' | 'completed' | 'canceled' | 'failed';

/** A task in the REST contract's JSON shape (docs/api.md), as `taskctl --json` prints it. */
export interface TaskJson {
  id: string;
  content: string;
  status: TaskStatusName | 'unspecified';
  created_at: string | null;
  updated_at: string | null;
  /** Only for a scheduled task. */
  schedule_time?: string;
  /** Why the task failed; present for failed tasks only. */
  error?: string;
}

const NAMES: Record<TaskStatus, TaskStatusName | 'unspecified'> = {
  [TaskStatus.UNSPECIFIED]: 'unspecified',
  [TaskStatus.PENDING]: 'pending',
  [TaskStatus.PROCESSING]: 'processing',
  [TaskStatus.COMPLETED]: 'completed',
  [TaskStatus.CANCELED]: 'canceled',
  [TaskStatus.FAILED]: 'failed',
};

/** Statuses a task rests in: completed and canceled for good, failed until it is retried. */
export const FINAL_STATUSES: readonly TaskStatus[] = Object.freeze([TaskStatus.COMPLETED, TaskStatus.CANCELED, TaskStatus.FAILED]);

export function statusName(status: TaskStatus): TaskStatusName | 'unspecified' {
  return NAMES[status] ?? 'unspecified';
}

/** Parses "pending" (or "PENDING", "TASK_STATUS_PENDING"); undefined for anything else. */
export function parseStatus(name: string): TaskStatus | undefined {
  const short = name.toLowerCase().replace(/^task_status_/, '');
  const entry = Object.entries(NAMES).find(([, value]) => value === short && value !== 'unspecified');
  return entry ? (Number(entry[0]) as TaskStatus) : undefined;
}

export function isFinal(status: TaskStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

export function toTaskJson(task: Task): TaskJson {
  return {
    id: task.id,
    content: task.content,
    status: statusName(task.status),
    created_at: task.createdAt ? formatTimestamp(task.createdAt) : null,
    updated_at: task.updatedAt ? formatTimestamp(task.updatedAt) : null,
    ...(task.scheduleTime ? { schedule_time: formatTimestamp(task.scheduleTime) } : {}),
    ...(task.status === TaskStatus.FAILED ? { error: task.error ?? '' } : {}),
  };
}

/**
 * RFC 3339 UTC with exactly six fractional digits, as the REST contract
 * prints times (the database keeps microseconds). A Date would drop them.
 */
export function formatTimestamp(timestamp: Timestamp): string {
  const seconds = new Date(Number(timestamp.seconds) * 1000).toISOString().slice(0, 19);
  const micros = Math.floor(timestamp.nanos / 1000).toString().padStart(6, '0');
  return `${seconds}.${micros}Z`;
}
