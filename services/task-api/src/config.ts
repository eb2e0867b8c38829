import { EnvReader, readSharedConfig, type Env, type SharedConfig } from '@taskproc/core';

export interface TaskApiConfig extends SharedConfig {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** Safety-net poll of the outbox; new tasks wake the relay at once. */
  outboxPollIntervalMs: number;
  outboxBatchSize: number;
  /**
   * Longest a unary request is served before it is answered UNAVAILABLE
   * (a client's shorter deadline wins). Below the gateway's 15 s upstream
   * timeout, so an outage reaches REST clients as 503, not 504.
   */
  requestTimeoutMs: number;
  /** Creates waiting for a group commit; past it a create is refused RESOURCE_EXHAUSTED. */
  createQueueLimit: number;
  /**
   * A connection that has not sent a whole first request (HTTP/1.1 headers,
   * or the HTTP/2 preface and SETTINGS) within this is closed.
   */
  connectionHandshakeTimeoutMs: number;
  /** Time in-flight requests get on SIGTERM before connections are cut. */
  shutdownGraceMs: number;
  /**
   * Fault injection for the reliability suite only: exit the process right
   * after a create commits, before the relay can publish it. Never set in
   * deployment.
   */
  faultExitAfterCommit: boolean;
}

/** Reads and validates the task-api's settings once, at start. */
export function readTaskApiConfig(env: Env = process.env): Readonly<TaskApiConfig> {
  const reader = new EnvReader(env);
  return reader.done({
    ...readSharedConfig(reader),
    host: reader.string('TASK_API_HOST', '127.0.0.1'),
    port: reader.integer('TASK_API_PORT', 50051, { min: 0, max: 65535 }),
    outboxPollIntervalMs: reader.integer('OUTBOX_POLL_INTERVAL_MS', 1000, { min: 10, max: 60_000 }),
    outboxBatchSize: reader.integer('OUTBOX_BATCH_SIZE', 200, { min: 1, max: 10_000 }),
    requestTimeoutMs: reader.integer('TASK_API_REQUEST_TIMEOUT_MS', 10_000, { min: 100, max: 600_000 }),
    createQueueLimit: reader.integer('TASK_API_CREATE_QUEUE_LIMIT', 10_000, { min: 1, max: 1_000_000 }),
    connectionHandshakeTimeoutMs: reader.integer('TASK_API_HANDSHAKE_TIMEOUT_MS', 10_000, { min: 100, max: 600_000 }),
    shutdownGraceMs: reader.integer('TASK_API_SHUTDOWN_GRACE_MS', 10_000, { min: 0, max: 300_000 }),
    faultExitAfterCommit: reader.boolean('TASK_API_FAULT_EXIT_AFTER_COMMIT', false),
  });
}
