import { create } from '@bufbuild/protobuf';
import { TimestampSchema, type Timestamp } from '@bufbuild/protobuf/wkt';
import { TaskSchema as TaskMessageSchema, TaskStatus, type Task as TaskMessage } from '@taskproc/contract';
import { splitTimestamp, type Task, type TaskStatusName } from '@taskproc/core';

const STATUS_TO_PROTO: Record<TaskStatusName, TaskStatus> = {
  pending: TaskStatus.PENDING,
  processing: TaskStatus.PROCESSING,
  completed: TaskStatus.COMPLETED,
  canceled: TaskStatus.CANCELED,
  failed: TaskStatus.FAILED,
};

/**
 * The protobuf view of a stored task: updated_at stays unset until the first
 * change, schedule_time is set only for a scheduled task, and error only
 * while the task is failed (the contract's optional keys).
 */
export function toTaskMessage(task: Task): TaskMessage {
  return create(TaskMessageSchema, {
    id: task.id,
    content: task.content,
    status: STATUS_TO_PROTO[task.status],
    createdAt: toTimestamp(task.createdAt),
    updatedAt: task.updatedAt === null ? undefined : toTimestamp(task.updatedAt),
    scheduleTime: task.scheduleTime ? toTimestamp(task.scheduleTime) : undefined,
    error: task.status === 'failed' ? (task.error ?? '') : undefined,
  });
}

function toTimestamp(canonical: string): Timestamp {
  return create(TimestampSchema, splitTimestamp(canonical));
}

