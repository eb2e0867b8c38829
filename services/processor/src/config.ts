import { EnvReader, readSharedConfig, readTracingConfig, type Env, type MetricsConfig, type SharedConfig, type TracingConfig } from '@taskproc/core';

export interface ProcessorConfig extends SharedConfig {
  /**
   * Unacknowledged messages the broker hands this processor at once, which is
   * also the number of tasks it works on at once (one consumer, one channel).
   */
  prefetch: number;
  /** Simulated work per task. */
  processingDurationMs: number;
  /** Time in-flight tasks get to finish on SIGTERM before their messages go back to the queue. */
  shutdownGraceMs: number;
  /** Prometheus metrics (PROCESSOR_METRICS_HOST, PROCESSOR_METRICS_PORT; default 127.0.0.1:9470, one port per replica). */
  metrics: MetricsConfig;
  /** OpenTelemetry traces over OTLP, on when OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT is set. */
  tracing: TracingConfig;
}

/** Reads and validates the processor's settings once, at start. */
export function readProcessorConfig(env: Env = process.env): Readonly<ProcessorConfig> {
  const reader = new EnvReader(env);
  return reader.done({
    ...readSharedConfig(reader),
    // RabbitMQ treats a prefetch of 0 as "unlimited", which would void the bound.
    prefetch: reader.integer('PROCESSOR_PREFETCH', 100, { min: 1, max: 65_535 }),
    processingDurationMs: reader.integer('PROCESSING_DURATION_MS', 3_000, { min: 0, max: 3_600_000 }),
    shutdownGraceMs: reader.integer('PROCESSOR_SHUTDOWN_GRACE_MS', 10_000, { min: 0, max: 3_600_000 }),
    metrics: { host: reader.string('PROCESSOR_METRICS_HOST', '127.0.0.1'), port: reader.integer('PROCESSOR_METRICS_PORT', 9470, { min: 0, max: 65535 }) },
    tracing: readTracingConfig(reader, 'taskproc-processor'),
  });
}
