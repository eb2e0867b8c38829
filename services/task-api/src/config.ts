import { EnvReader, readSharedConfig, readTracingConfig, type Env, type MetricsConfig, type SharedConfig, type TracingConfig } from '@taskproc/core';

export interface TaskApiConfig extends SharedConfig {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** Safety-net poll of the outbox; new tasks wake the relay at once. */
  outboxPollIntervalMs: number;
  outboxBatchSize: number;
  /** Time in-flight requests get on SIGTERM before connections are cut. */
  shutdownGraceMs: number;
  /**
   * Fault injection for the reliability suite only: exit the process right
   * after a create commits, before the relay can publish it. Never set in
   * deployment.
   */
  faultExitAfterCommit: boolean;
  /** Prometheus metrics (TASK_API_METRICS_HOST, TASK_API_METRICS_PORT; default 127.0.0.1:9461). */
  metrics: MetricsConfig;
  /** OpenTelemetry traces over OTLP, on when OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT is set. */
  tracing: TracingConfig;
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
    shutdownGraceMs: reader.integer('TASK_API_SHUTDOWN_GRACE_MS', 10_000, { min: 0, max: 300_000 }),
    faultExitAfterCommit: reader.boolean('TASK_API_FAULT_EXIT_AFTER_COMMIT', false),
    metrics: { host: reader.string('TASK_API_METRICS_HOST', '127.0.0.1'), port: reader.integer('TASK_API_METRICS_PORT', 9461, { min: 0, max: 65535 }) },
    tracing: readTracingConfig(reader, 'taskproc-task-api'),
  });
}
