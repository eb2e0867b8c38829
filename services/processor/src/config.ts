import { EnvReader, readSharedConfig, type Env, type SharedConfig } from '@taskproc/core';

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
  });
}

/** Each close step at shutdown (consumer cancel, channel, connection, LISTEN connection, pool) waits at most this. */
export const SHUTDOWN_CLOSE_STEP_MS = 2_000;
const CLOSE_STEPS = 4;

/**
 * How long the work still running at the end of the grace may take to unwind
 * once aborted: only a database statement already sent holds it, and the
 * client gives up on one a second after its server-side statement timeout.
 */
export function abortDrainMs(config: Pick<ProcessorConfig, 'databaseStatementTimeoutMs'>): number {
  return config.databaseStatementTimeoutMs + 1_000;
}

/**
 * The longest a graceful shutdown can take: the grace, then the aborted work
 * unwinding, then each close step at its bound. A supervisor must wait at
 * least this long after SIGTERM before it kills the process (compose's
 * stop_grace_period, Kubernetes' terminationGracePeriodSeconds); the
 * processor logs it at start.
 */
export function shutdownBudgetMs(config: Pick<ProcessorConfig, 'shutdownGraceMs' | 'databaseStatementTimeoutMs'>): number {
  return config.shutdownGraceMs + abortDrainMs(config) + CLOSE_STEPS * SHUTDOWN_CLOSE_STEP_MS;
}
