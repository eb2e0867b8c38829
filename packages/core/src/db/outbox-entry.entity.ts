import { EntitySchema, type Opt } from '@mikro-orm/core';
import { MicrosTimestampType } from './micros-timestamp.type.js';
import type { Task } from './task.entity.js';

/**
 * A task's queue entry, written in the same transaction as the task (the
 * transactional outbox). The relay in task-api publishes it to RabbitMQ and
 * deletes it once the broker has confirmed the message.
 */
export interface OutboxEntry {
  id: string;
  task: Task;
  createdAt: Opt<string>;
  /** The entry is not published before this time (a scheduled task, or a retry's backoff). */
  notBefore: Opt<string>;
  /** W3C trace context of the create that wrote the entry (JSON), or null. */
  traceContext?: string | null;
}

export const OutboxEntrySchema = new EntitySchema<OutboxEntry>({
  name: 'OutboxEntry',
  tableName: 'outbox',
  properties: {
    id: { type: 'bigint', primary: true, autoincrement: true },
    // A relation (not a bare uuid) so the unit of work inserts the task first.
    task: { kind: 'm:1', entity: 'Task', fieldName: 'task_id', deleteRule: 'cascade' },
    createdAt: { type: MicrosTimestampType, fieldName: 'created_at', defaultRaw: 'clock_timestamp()' },
    notBefore: { type: MicrosTimestampType, fieldName: 'not_before', defaultRaw: 'clock_timestamp()' },
    traceContext: { type: 'text', fieldName: 'trace_context', nullable: true },
  },
});
