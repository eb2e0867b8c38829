import { TaskStatus, type Task } from '@taskproc/contract';

// Status names as users and the REST API spell them, from the proto enum.

export const STATUS_NAMES = ['pending', 'processing', 'completed', 'canceled', 'failed'] as const;
export type StatusName = (typeof STATUS_NAMES)[number];

const BY_ENUM: Readonly<Record<number, StatusName>> = {
  [TaskStatus.PENDING]: 'pending',
  [TaskStatus.PROCESSING]: 'processing',
  [TaskStatus.COMPLETED]: 'completed',
  [TaskStatus.CANCELED]: 'canceled',
  [TaskStatus.FAILED]: 'failed',
};

const BY_NAME: Readonly<Record<StatusName, TaskStatus>> = {
  pending: TaskStatus.PENDING,
  processing: TaskStatus.PROCESSING,
  completed: TaskStatus.COMPLETED,
  canceled: TaskStatus.CANCELED,
  failed: TaskStatus.FAILED,
};

export function statusName(status: TaskStatus): StatusName | 'unknown' {
  return BY_ENUM[status] ?? 'unknown';
}

export function statusOf(name: StatusName): TaskStatus {
  return BY_NAME[name];
}

export function isStatusName(value: string): value is StatusName {
  return (STATUS_NAMES as readonly string[]).includes(value);
}

export const FINAL_STATUSES: readonly TaskStatus[] = [TaskStatus.COMPLETED, TaskStatus.CANCELED, TaskStatus.FAILED];

export function isFinal(task: Pick<Task, 'status'>): boolean {
  return FINAL_STATUSES.includes(task.status);
}

export function canCancel(task: Pick<Task, 'status'>): boolean {
  return task.status === TaskStatus.PENDING || task.status === TaskStatus.PROCESSING;
}

export function canRetry(task: Pick<Task, 'status'>): boolean {
  return task.status === TaskStatus.FAILED;
}
