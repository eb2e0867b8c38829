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
}

export function readSharedConfig(env: EnvReader): SharedConfig {
  return {
    databaseUrl: env.url('DATABASE_URL', ['postgres:', 'postgresql:']),
    databasePoolSize: env.integer('DATABASE_POOL_SIZE', 10, { min: 1, max: 200 }),
    amqpUrl: env.url('AMQP_URL', ['amqp:', 'amqps:']),
    queueNamespace: env.string('QUEUE_NAMESPACE', 'taskproc'),
    queueDeliveryLimit: env.integer('QUEUE_DELIVERY_LIMIT', 5, { min: 1, max: 1000 }),
    logLevel: env.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
  };
}
