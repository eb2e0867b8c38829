import { EntitySchema, type Opt } from '@mikro-orm/core';
import { TASK_STATUSES, type TaskStatusName } from '../status.js';
import { DEFAULT_TENANT, TENANT_PATTERN } from '../tenants.js';
import { MicrosTimestampType } from './micros-timestamp.type.js';

export interface Task {
  id: string;
  /**
   * The tenant the task belongs to (the one whose token created it). Every
   * client's read and change is scoped by it; never shown to clients.
   */
  tenant: string;
  content: string;
  status: TaskStatusName;
  /**
   * How many times a processor has claimed the task. A claim bumps it and the
   * claimant completes only while it is unchanged, so a processor that lost
   * its task (its channel died and another processor took over) can never
   * finish it.
   */
  attempt: number;
  createdAt: Opt<string>;
  updatedAt: string | null;
  /** Why the latest attempt failed; shown to clients only while the task is failed. */
  error?: string | null;
  /** When a scheduled task becomes due; null for a task due at once. */
  scheduleTime?: string | null;
  /**
   * When the task was last put in the outbox (create, or a re-queue of a
   * stale task). Internal: not loaded unless asked for, never shown to clients.
   */
  queuedAt?: Opt<string>;
}

const statusList = TASK_STATUSES.map((s) => `'${s}'`).join(', ');

// EntitySchema rather than decorators: the services run under tsx/esbuild,
// which emits no decorator metadata, so every property type is spelled out.
export const TaskSchema = new EntitySchema<Task>({
  name: 'Task',
  tableName: 'task',
  properties: {
    id: { type: 'uuid', primary: true },
    tenant: { type: 'text', default: DEFAULT_TENANT },
    content: { type: 'text' },
    status: { type: 'text', default: 'pending' },
    attempt: { type: 'integer', default: 0 },
    createdAt: { type: MicrosTimestampType, fieldName: 'created_at', defaultRaw: 'clock_timestamp()' },
    updatedAt: { type: MicrosTimestampType, fieldName: 'updated_at', nullable: true },
    error: { type: 'text', nullable: true },
    scheduleTime: { type: MicrosTimestampType, fieldName: 'schedule_time', nullable: true },
    queuedAt: { type: MicrosTimestampType, fieldName: 'queued_at', defaultRaw: 'clock_timestamp()', lazy: true, hidden: true },
  },
  checks: [
    { name: 'task_status_check', expression: `status in (${statusList})` },
    { name: 'task_tenant_check', expression: `tenant ~ '${TENANT_PATTERN.source}'` },
  ],
});
