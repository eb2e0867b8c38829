import { ConfigError, EnvReader, readSharedConfig, type Env, type SharedConfig } from '@taskproc/core';

export interface ProcessorConfig extends SharedConfig {
  /**
   * Unacknowledged messages the broker hands this processor at once, which is
   * also the number of tasks it works on at once (one consumer, one channel).
   */
  prefetch: number;
  /** The default handler's work per task: a wait of this long. */
  processingDurationMs: number;
  /** Time in-flight tasks get to finish on SIGTERM before their messages go back to the queue. */
  shutdownGraceMs: number;
  /** TASK_HANDLER: the ES module (a path or a package name) whose default export does the work; null for the default wait. */
  taskHandler: string | null;
  /**
   * An attempt running longer than this is aborted and fails. Defaults to
   * 60 s, or half the stale period when that is shorter.
   */
  taskTimeoutMs: number;
  /** Failed attempts after which the task is `failed` (1: no retry). */
  taskMaxAttempts: number;
  /** Backoff before the attempt after the n-th failure: base * 2^(n-1), capped, jittered (half to all of it). */
  taskRetryBaseMs: number;
  taskRetryMaxMs: number;
  /**
   * Crash-loop cap: a task whose attempts were interrupted this many times
   * (the processor died or stopped during each) is `failed` at its next
   * claim instead of being run again.
   */
  taskMaxInterruptions: number;
}

/** Reads and validates the processor's settings once, at start. */
export function readProcessorConfig(env: Env = process.env): Readonly<ProcessorConfig> {
  const reader = new EnvReader(env);
  const shared = readSharedConfig(reader);
  const config = reader.done({
    ...shared,
    // RabbitMQ treats a prefetch of 0 as "unlimited", which would void the bound.
    prefetch: reader.integer('PROCESSOR_PREFETCH', 100, { min: 1, max: 65_535 }),
    processingDurationMs: reader.integer('PROCESSING_DURATION_MS', 3_000, { min: 0, max: 3_600_000 }),
    shutdownGraceMs: reader.integer('PROCESSOR_SHUTDOWN_GRACE_MS', 10_000, { min: 0, max: 3_600_000 }),
    taskHandler: reader.string('TASK_HANDLER', '') || null,
    taskTimeoutMs: reader.integer('TASK_TIMEOUT_MS', Math.min(60_000, Math.floor(shared.taskStaleAfterMs / 2)), { min: 1, max: 86_400_000 }),
    taskMaxAttempts: reader.integer('TASK_MAX_ATTEMPTS', 3, { min: 1, max: 1_000 }),
    taskRetryBaseMs: reader.integer('TASK_RETRY_BASE_MS', 1_000, { min: 1, max: 86_400_000 }),
    taskRetryMaxMs: reader.integer('TASK_RETRY_MAX_MS', 60_000, { min: 1, max: 604_800_000 }),
    taskMaxInterruptions: reader.integer('TASK_MAX_INTERRUPTIONS', 5, { min: 1, max: 1_000 }),
  });
  const problems: string[] = [];
  // A task processing for longer than the stale period is taken as lost and
  // taken over: an attempt must end (by its timeout) well before that.
  if (config.taskTimeoutMs >= config.taskStaleAfterMs) {
    problems.push(`TASK_TIMEOUT_MS (${config.taskTimeoutMs}) must be below TASK_STALE_AFTER_MS (${config.taskStaleAfterMs})`);
  }
  if (config.taskRetryMaxMs < config.taskRetryBaseMs) {
    problems.push(`TASK_RETRY_MAX_MS (${config.taskRetryMaxMs}) must be at least TASK_RETRY_BASE_MS (${config.taskRetryBaseMs})`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** Each close step at shutdown (consumer cancel, channel, connection, LISTEN connection, pool) waits at most this. */
export const SHUTDOWN_CLOSE_STEP_MS = 2_000;
const CLOSE_STEPS = 5;

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
