import { createLogger, createMetricsRegistry, databaseTimeouts, openOrm, startMetricsServer, startTracing, taskStoreMetrics, taskTopology, TaskFailureStore, TaskStore, type Logger } from '@taskproc/core';
import type { TaskHandler } from '@taskproc/handler';
import { CancellationListener } from './cancellation/cancellation-listener.js';
import { abortDrainMs, shutdownBudgetMs, SHUTDOWN_CLOSE_STEP_MS, type ProcessorConfig } from './config.js';
import { ProcessorEvents } from './events.js';
import { TaskConsumer } from './messaging/task-consumer.js';
import { tracedHandler, tracedSteps } from './telemetry/message-tracing.js';
import { processorMetrics } from './telemetry/processor-metrics.js';
import { RunningTasks } from './tasks/running-tasks.js';
import { batchedSteps } from './tasks/batched-steps.js';
import { deepAtFor } from './tasks/step-concurrency.js';
import { waitingHandler } from './tasks/default-handler.js';
import { loadHandler } from './tasks/load-handler.js';
import { TaskRunner } from './tasks/task-runner.js';

export type { ProcessorConfig } from './config.js';
export { readProcessorConfig, shutdownBudgetMs } from './config.js';
export type { AbortReason, Outcome, ProcessorEventMap } from './events.js';
export { ProcessorEvents } from './events.js';

export interface Processor {
  /** What the processor reports as it works (claims, aborts, settlements, reconnects). */
  readonly events: ProcessorEvents;
  /** Where Prometheus scrapes this process, e.g. http://127.0.0.1:9470/metrics */
  readonly metricsUrl: string;
  /** Messages being handled now, and the most ever handled at once. */
  stats(): { inFlight: number; peakInFlight: number };
  /**
   * Graceful stop: stop consuming, give in-flight tasks the shutdown grace,
   * return the rest to the queue, close the broker connection, the
   * cancellation listener and the ORM. Repeat-safe.
   */
  close(): Promise<void>;
}

/**
 * Claims and completions in flight at once, per kind: at most two keep the
 * database busy while the next batch gathers, and leave the pool room for
 * the other kind and for lookups; a loaded processor keeps one unless a
 * full statement waits (step-concurrency.ts). 100 bounds one statement's
 * size: a drain's wave of claims at a large prefetch leaves in chunks, so
 * its first tasks start after one chunk's statement, not the whole wave's.
 */
const STEP_BATCHES = { maxBatch: 100, maxInFlight: 2 };

export interface ProcessorOptions {
  /** The work, given directly (tests, embedding); otherwise config.taskHandler, or the default wait. */
  handler?: TaskHandler;
}

/**
 * Starts one processor: its handler, an ORM, the cancellation listener and
 * one consumer. Resolves once it consumes and hears cancels; while RabbitMQ
 * or PostgreSQL is unreachable it keeps retrying with backoff. Rejects with
 * a ConfigError naming TASK_HANDLER when the handler cannot be loaded,
 * before connecting to anything.
 */
export async function startProcessor(
  config: Readonly<ProcessorConfig>,
  logger: Logger = createLogger('processor', config.logLevel),
  options: ProcessorOptions = {},
): Promise<Processor> {
  const handler = options.handler ?? (config.taskHandler ? await loadHandler(config.taskHandler) : waitingHandler(config.processingDurationMs));
  logger.info({ handler: config.taskHandler ?? `default (wait ${config.processingDurationMs} ms)` }, 'task handler loaded');
  const tracing = await startTracing(config.tracing, logger);
  const registry = createMetricsRegistry();
  const orm = await openOrm({ databaseUrl: config.databaseUrl, poolSize: config.databasePoolSize, timeouts: databaseTimeouts(config), logger });
  // One observer for both stores: each change is counted where it commits.
  const observer = taskStoreMetrics(registry);
  const store = new TaskStore(orm, { staleAfterMs: config.taskStaleAfterMs, observer });
  const events = new ProcessorEvents();
  const running = new RunningTasks();
  // The consumer is made below; the steps ask it only once messages flow.
  const inHand = () => consumer.inFlightCount;
  const batches = { ...STEP_BATCHES, deepAt: deepAtFor(config.prefetch), inHand };
  const steps = tracedSteps(batchedSteps(store, new TaskFailureStore(orm, { observer }), batches), { tracing: tracing.enabled });
  const runner = new TaskRunner({
    store: steps,
    running,
    events,
    logger,
    handler,
    policy: {
      timeoutMs: config.taskTimeoutMs,
      maxAttempts: config.taskMaxAttempts,
      retryBaseMs: config.taskRetryBaseMs,
      retryMaxMs: config.taskRetryMaxMs,
      maxInterruptions: config.taskMaxInterruptions,
    },
  });

  const listener = new CancellationListener({
    databaseUrl: config.databaseUrl,
    connectTimeoutMs: config.databaseConnectTimeoutMs,
    queryTimeoutMs: config.databaseStatementTimeoutMs,
    closeTimeoutMs: SHUTDOWN_CLOSE_STEP_MS,
    logger,
    onCancel: (taskId) => {
      if (running.abortTask(taskId, 'canceled') > 0) logger.debug({ taskId }, 'cancel notice for a task in hand');
    },
    onListening: (reconnected) => {
      if (reconnected) void recheckCanceled(store, running, logger);
      events.emit('listener-connected');
    },
  });
  const topology = taskTopology(config.queueNamespace, config.queueDeliveryLimit);
  const metrics = processorMetrics(registry, { events, store, prefetch: config.prefetch, inFlight: () => consumer.inFlightCount });
  const handle = tracedHandler((message, deadLetter) => runner.handle(message, metrics.countDeadLetters(deadLetter)), {
    tracing: tracing.enabled,
    queue: topology.taskQueue,
  });
  const consumer = new TaskConsumer({
    amqpUrl: config.amqpUrl,
    connectTimeoutMs: config.amqpConnectTimeoutMs,
    confirmTimeoutMs: config.amqpConfirmTimeoutMs,
    abortDrainMs: abortDrainMs(config),
    closeTimeoutMs: SHUTDOWN_CLOSE_STEP_MS,
    topology,
    prefetch: config.prefetch,
    logger,
    events,
    handle,
    onChannelLost: () => running.abortAll('channel-lost'),
  });

  if (config.taskStaleAfterMs < 2 * config.processingDurationMs) {
    logger.warn(
      { taskStaleAfterMs: config.taskStaleAfterMs, processingDurationMs: config.processingDurationMs },
      'the stale period is close to the work: a task still being worked on may be taken over (it still completes once)',
    );
  }
  if (!config.taskHandler && !options.handler && config.processingDurationMs >= config.taskTimeoutMs) {
    logger.warn(
      { processingDurationMs: config.processingDurationMs, taskTimeoutMs: config.taskTimeoutMs },
      'the default work outlasts TASK_TIMEOUT_MS: every attempt will time out',
    );
  }
  if (config.shutdownGraceMs < config.processingDurationMs) {
    logger.warn(
      { shutdownGraceMs: config.shutdownGraceMs, processingDurationMs: config.processingDurationMs },
      'the shutdown grace is shorter than the work: a shutdown returns tasks to the queue unfinished',
    );
  }

  logger.info(
    { shutdownGraceMs: config.shutdownGraceMs, shutdownBudgetMs: shutdownBudgetMs(config) },
    'a graceful shutdown takes at most shutdownBudgetMs; the supervisor must wait at least that long before killing',
  );

  // Listen before consuming, so no task is claimed while its cancel could go unheard.
  listener.start();
  await listener.ready;
  consumer.start();
  await consumer.ready;
  const metricsServer = await startMetricsServer(registry, config.metrics, logger);

  let closing: Promise<void> | null = null;
  return {
    events,
    metricsUrl: metricsServer.url,
    stats: () => ({ inFlight: consumer.inFlightCount, peakInFlight: consumer.peakInFlight }),
    close: () =>
      (closing ??= (async () => {
        logger.info('shutting down');
        await consumer.stop(config.shutdownGraceMs, () => running.abortAll('shutdown'));
        await listener.close();
        // An unreachable database would hold the pool's goodbye to each connection.
        await closeWithin(orm.close(), SHUTDOWN_CLOSE_STEP_MS, logger);
        await metricsServer.close();
        await tracing.shutdown();
        logger.info('stopped');
      })()),
  };
}

/** After the listener reconnects: abort work on tasks canceled while it was away. */
async function recheckCanceled(store: TaskStore, running: RunningTasks, logger: Logger): Promise<void> {
  for (const taskId of running.taskIds()) {
    try {
      if ((await store.findInAnyTenant(taskId))?.status === 'canceled') running.abortTask(taskId, 'canceled');
    } catch (error) {
      // The guarded completion still keeps the task canceled; only promptness is lost.
      logger.warn({ err: error, taskId }, 'could not re-check a task after the listener reconnected');
    }
  }
}

/** Waits for `closing` at most `ms`; past that, shutdown goes on (the process exits right after). */
async function closeWithin(closing: Promise<unknown>, ms: number, logger: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ms)));
  const outcome = await Promise.race([closing.then(() => 'closed', () => 'closed'), late]);
  clearTimeout(timer);
  if (outcome === 'late') logger.warn({ ms }, 'the database pool did not close in time; exiting anyway');
}
