import { EnvReader, readSharedConfig, readTracingConfig, type Env, type MetricsConfig, type SharedConfig, type TracingConfig } from '@taskproc/core';

export interface TaskApiConfig extends SharedConfig {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** Safety-net poll of the outbox; new tasks wake the relay at once. */
  outboxPollIntervalMs: number;
  outboxBatchSize: number;
  /** How long a create's request_id stays bound to its task (24 h; tests shorten it). */
  idempotencyKeyLifetimeMs: number;
  /** How often expired idempotency keys are deleted (they are free at once regardless). */
  idempotencyCleanupIntervalMs: number;
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
  /** Listing and watching (docs/watching.md). */
  watching: WatchingConfig;
  /** Prometheus metrics (TASK_API_METRICS_HOST, TASK_API_METRICS_PORT; default 127.0.0.1:9461). */
  metrics: MetricsConfig;
  /** OpenTelemetry traces over OTLP, on when OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT is set. */
  tracing: TracingConfig;
}

export interface WatchingConfig {
  /**
   * Key of the HMAC that authenticates ListTasks page tokens. Every task-api
   * of a deployment needs the same one; null means a random key per process
   * (tokens then fail after a restart or on another replica).
   */
  pageTokenSecret: string | null;
  /** Watch streams (WatchTask and WatchTasks) one process serves at once; past it RESOURCE_EXHAUSTED. */
  maxStreams: number;
  /** Changes a stream may hold unread; past it the watcher is cut off with UNAVAILABLE. */
  streamBufferMessages: number;
  /** A stream with nothing to say for this long gets a keep-alive message. */
  keepAliveMs: number;
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
    idempotencyKeyLifetimeMs: reader.integer('IDEMPOTENCY_KEY_LIFETIME_MS', 86_400_000, { min: 1_000, max: 604_800_000 }),
    idempotencyCleanupIntervalMs: reader.integer('IDEMPOTENCY_CLEANUP_INTERVAL_MS', 60_000, { min: 100, max: 3_600_000 }),
    requestTimeoutMs: reader.integer('TASK_API_REQUEST_TIMEOUT_MS', 10_000, { min: 100, max: 600_000 }),
    createQueueLimit: reader.integer('TASK_API_CREATE_QUEUE_LIMIT', 10_000, { min: 1, max: 1_000_000 }),
    connectionHandshakeTimeoutMs: reader.integer('TASK_API_HANDSHAKE_TIMEOUT_MS', 10_000, { min: 100, max: 600_000 }),
    shutdownGraceMs: reader.integer('TASK_API_SHUTDOWN_GRACE_MS', 10_000, { min: 0, max: 300_000 }),
    faultExitAfterCommit: reader.boolean('TASK_API_FAULT_EXIT_AFTER_COMMIT', false),
    watching: readWatchingConfig(reader),
    metrics: { host: reader.string('TASK_API_METRICS_HOST', '127.0.0.1'), port: reader.integer('TASK_API_METRICS_PORT', 9461, { min: 0, max: 65535 }) },
    tracing: readTracingConfig(reader, 'taskproc-task-api'),
  });
}

function readWatchingConfig(reader: EnvReader): WatchingConfig {
  const secret = reader.string('PAGE_TOKEN_SECRET', '');
  if (secret !== '' && secret.length < 32) reader.problem('PAGE_TOKEN_SECRET must be at least 32 characters');
  return {
    pageTokenSecret: secret === '' ? null : secret,
    maxStreams: reader.integer('WATCH_MAX_STREAMS', 10_000, { min: 1, max: 1_000_000 }),
    streamBufferMessages: reader.integer('WATCH_STREAM_BUFFER_MESSAGES', 256, { min: 1, max: 100_000 }),
    keepAliveMs: reader.integer('WATCH_KEEPALIVE_MS', 15_000, { min: 100, max: 120_000 }),
  };
}
