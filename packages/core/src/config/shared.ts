import type { EnvReader } from './env.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Settings every service reads the same way. */
export interface SharedConfig {
  databaseUrl: string;
  /** Connections per process; creates and status changes are short statements. */
  databasePoolSize: number;
  amqpUrl: string;
  /** Prefix of every exchange and queue name, so several systems (or test runs) share a broker. */
  queueNamespace: string;
  /** Deliveries of one message before it is dead-lettered (the quorum queue's x-delivery-limit). */
  queueDeliveryLimit: number;
  logLevel: LogLevel;
  /**
   * A pending or processing task unchanged for this long is taken as lost by
   * whoever held it: task-api queues it again and a processor may take it
   * over. Far longer than PROCESSING_DURATION_MS plus the longest expected
   * queue backlog.
   */
  taskStaleAfterMs: number;
}

export function readSharedConfig(env: EnvReader): SharedConfig {
  return {
    databaseUrl: env.url('DATABASE_URL', ['postgres:', 'postgresql:']),
    databasePoolSize: env.integer('DATABASE_POOL_SIZE', 10, { min: 1, max: 200 }),
    amqpUrl: env.url('AMQP_URL', ['amqp:', 'amqps:']),
    queueNamespace: env.string('QUEUE_NAMESPACE', 'taskproc'),
    queueDeliveryLimit: env.integer('QUEUE_DELIVERY_LIMIT', 5, { min: 1, max: 1000 }),
    logLevel: env.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    taskStaleAfterMs: env.integer('TASK_STALE_AFTER_MS', 300_000, { min: 1_000, max: 86_400_000 }),
  };
}
