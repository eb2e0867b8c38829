import type { EnvReader } from './env.js';
import type { DatabaseTimeouts } from '../db/bounded-connection.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Settings every service reads the same way. */
export interface SharedConfig {
  databaseUrl: string;
  /** Connections per process; creates and status changes are short statements. */
  databasePoolSize: number;
  /** Opening a PostgreSQL connection. */
  databaseConnectTimeoutMs: number;
  /** Waiting for a pooled connection (a full pool, or one being opened). */
  databaseAcquireTimeoutMs: number;
  /** One statement: statement_timeout on the server, plus a second on the client for an unreachable server. */
  databaseStatementTimeoutMs: number;
  amqpUrl: string;
  /** Opening a RabbitMQ connection (TCP and the AMQP handshake). */
  amqpConnectTimeoutMs: number;
  /** Waiting for the broker's publisher confirms (outbox batches, dead-letter copies). */
  amqpConfirmTimeoutMs: number;
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
    databaseConnectTimeoutMs: env.integer('DATABASE_CONNECT_TIMEOUT_MS', 3_000, { min: 100, max: 600_000 }),
    databaseAcquireTimeoutMs: env.integer('DATABASE_ACQUIRE_TIMEOUT_MS', 5_000, { min: 100, max: 600_000 }),
    databaseStatementTimeoutMs: env.integer('DATABASE_STATEMENT_TIMEOUT_MS', 5_000, { min: 100, max: 600_000 }),
    amqpUrl: env.url('AMQP_URL', ['amqp:', 'amqps:']),
    amqpConnectTimeoutMs: env.integer('AMQP_CONNECT_TIMEOUT_MS', 5_000, { min: 100, max: 600_000 }),
    amqpConfirmTimeoutMs: env.integer('AMQP_CONFIRM_TIMEOUT_MS', 10_000, { min: 100, max: 600_000 }),
    queueNamespace: env.string('QUEUE_NAMESPACE', 'taskproc'),
    queueDeliveryLimit: env.integer('QUEUE_DELIVERY_LIMIT', 5, { min: 1, max: 1000 }),
    logLevel: env.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    taskStaleAfterMs: env.integer('TASK_STALE_AFTER_MS', 300_000, { min: 1_000, max: 86_400_000 }),
  };
}

/**
 * The pool's bounds from the shared settings. A transaction may sit idle
 * only while the outbox relay waits for confirms inside it (see
 * outbox-relay.ts), so that wait plus one statement bounds it; anything idler
 * is a connection lost mid-transaction, and PostgreSQL ends it to release its
 * row locks.
 */
export function databaseTimeouts(config: SharedConfig): DatabaseTimeouts {
  return {
    connectMs: config.databaseConnectTimeoutMs,
    acquireMs: config.databaseAcquireTimeoutMs,
    statementMs: config.databaseStatementTimeoutMs,
    idleInTransactionMs: config.amqpConfirmTimeoutMs + config.databaseStatementTimeoutMs,
  };
}
