import { createContextValues } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import {
  TaskFailureStore,
  TaskStore,
  createLogger,
  createMetricsRegistry,
  databaseTimeouts,
  openOrm,
  sleep,
  startMetricsServer,
  startTracing,
  taskStoreMetrics,
  taskTopology,
  type Logger,
} from '@taskproc/core';
import { createAuthentication } from './auth/auth-interceptor.js';
import type { TaskApiConfig } from './config.js';
import { tracedCreate } from './create-tracing.js';
import { createDatabaseProbe } from './database-probe.js';
import { createGroupCommit, groupCommitSettings } from './group-commit.js';
import { IdempotencyKeyCleanup } from './idempotency-key-cleanup.js';
import { requestInterceptor } from './interceptors.js';
import { tenantLimitsInterceptor } from './limits/limits-interceptor.js';
import { outboxGauges } from './outbox-gauges.js';
import { OutboxDueListener } from './outbox-due-listener.js';
import { OutboxRelay } from './outbox-relay.js';
import { createReadinessProbe } from './readiness.js';
import { relayTelemetry } from './relay-telemetry.js';
import { requestDeadlineInterceptor } from './request-deadline.js';
import { createRoutes } from './routes.js';
import { rpcTelemetryInterceptor } from './rpc-telemetry.js';
import { createDualProtocolServer, type DualProtocolHandler } from './server.js';
import { StaleTaskSweeper } from './stale-task-sweeper.js';
import { markInvalidUtf8InBinaryStrings, strictJsonTextDecoder } from './utf8.js';
import { createTaskStats } from './task-stats.js';
import { nodeRequestKey } from './watching/watch-handlers.js';
import { startWatching, type Watching } from './watching/watching.js';

export type { TaskApiConfig } from './config.js';
export { readTaskApiConfig } from './config.js';

export interface RunningTaskApi {
  /** Base URL of the ConnectRPC server, e.g. http://127.0.0.1:50051 */
  url: string;
  port: number;
  /** Where Prometheus scrapes this process, e.g. http://127.0.0.1:9461/metrics */
  metricsUrl: string;
  /** Ordered, repeat-safe shutdown: stop accepting, drain requests, stop the relay, close the ORM. */
  close(): Promise<void>;
  /** Watch streams, their buffers and the listening connection (docs/watching.md). */
  watchStats: Watching['stats'];
}

// Bodies larger than this are refused before decoding. It sits above the
// gateway's 1 MiB REST limit so that a content over 65,536 bytes gets the
// contract's INVALID_ARGUMENT, not a transport error.
const READ_MAX_BYTES = 2 * 1024 * 1024;
/** Longest the last shutdown step (closing the pool) may take. */
// Each shutdown step after the server's drain waits at most this.
const CLOSE_STEP_MS = 2_000;

/** Starts the task-api: ORM, outbox relay and the ConnectRPC server on one port. */
export async function startTaskApi(config: TaskApiConfig, logger: Logger = createLogger('task-api', config.logLevel)): Promise<RunningTaskApi> {
  markInvalidUtf8InBinaryStrings();
  const tracing = await startTracing(config.tracing, logger);
  const registry = createMetricsRegistry();
  const auth = createAuthentication(config.auth, registry, logger);
  await auth.loadKeys();
  const orm = await openOrm({
    databaseUrl: config.databaseUrl,
    poolSize: config.databasePoolSize,
    timeouts: databaseTimeouts(config),
    logger,
  });
  // One observer for both stores: each change is counted where it commits.
  const observer = taskStoreMetrics(registry);
  const store = new TaskStore(orm, { staleAfterMs: config.taskStaleAfterMs, idempotencyKeyLifetimeMs: config.idempotencyKeyLifetimeMs, observer });
  outboxGauges(registry, orm);
  const topology = taskTopology(config.queueNamespace, config.queueDeliveryLimit);
  const relay = new OutboxRelay(
    orm,
    {
      amqpUrl: config.amqpUrl,
      topology,
      batchSize: config.outboxBatchSize,
      pollIntervalMs: config.outboxPollIntervalMs,
      connectTimeoutMs: config.amqpConnectTimeoutMs,
      confirmTimeoutMs: config.amqpConfirmTimeoutMs,
      telemetry: relayTelemetry(registry, { tracing: tracing.enabled }),
    },
    logger.child({ component: 'outbox-relay' }),
  );
  relay.start();
  // Entries that wait (a processor's failed attempt) are committed elsewhere too.
  const dueListener = new OutboxDueListener({
    databaseUrl: config.databaseUrl,
    connectTimeoutMs: config.databaseConnectTimeoutMs,
    queryTimeoutMs: config.databaseStatementTimeoutMs,
    closeTimeoutMs: config.databaseConnectTimeoutMs,
    logger: logger.child({ component: 'outbox-due-listener' }),
    onDue: (delayMs) => relay.wakeAfter(delayMs),
    onListening: () => relay.wake(),
  });
  dueListener.start();
  const sweeper = new StaleTaskSweeper(
    store,
    // A few sweeps per stale period: a lost task waits at most ~1.25 periods.
    { intervalMs: Math.max(1_000, Math.round(config.taskStaleAfterMs / 4)), onRequeued: () => relay.wake() },
    logger.child({ component: 'stale-task-sweeper' }),
  );
  sweeper.start();
  const keyCleanup = new IdempotencyKeyCleanup(
    store,
    { intervalMs: config.idempotencyCleanupIntervalMs, batchSize: 1_000, maxBatchesPerRound: 100 },
    logger.child({ component: 'idempotency-key-cleanup' }),
  );
  keyCleanup.start();

  const probeDatabase = createDatabaseProbe(orm);
  const stats = createTaskStats(orm, { amqpUrl: config.amqpUrl, topology }, logger.child({ component: 'task-stats' }));
  const watching = startWatching(orm, config, logger);
  const onTaskCommitted = config.faultExitAfterCommit
    ? () => {
        logger.fatal('fault injection: exiting after commit, before publish');
        process.exit(137);
      }
    : () => relay.wake();

  // Aborted when shutdown begins, so long-lived streams (health Watch) end at
  // once instead of holding the server open until the grace period runs out.
  const shutdown = new AbortController();
  const handler = connectNodeAdapter({
    shutdownSignal: shutdown.signal,
    routes: createRoutes(
      {
        store,
        failures: new TaskFailureStore(orm, { observer }),
        createTask: tracedCreate(createGroupCommit(store, groupCommitSettings(config)), { tracing: tracing.enabled }),
        createTasks: (items) => store.createTasksAtomically(items),
        onTaskCommitted,
        probeDatabase,
        stats,
        watching,
      },
      createReadinessProbe(probeDatabase, () => relay.health(), logger.child({ component: 'readiness' })),
    ),
    contextValues: (request) => createContextValues().set(nodeRequestKey, request),
    // Outermost first. Telemetry sees the code the client gets; the request
    // interceptor maps every error below it once and logs it with that code,
    // refused tokens and spent budgets included. Authentication comes before
    // anything that works for the caller, and the tenant it finds is what the
    // limits (then the handlers) read; an unauthenticated flood is refused
    // without touching any tenant's budget. The limits share the process
    // among tenants: with AUTH_MODE=none there is one, bounded by the
    // process-wide limits alone, as before authentication existed. The
    // deadline bounds the handler's dependencies; a JWKS fetch has its own
    // bound (AUTH_JWKS_TIMEOUT_MS).
    interceptors: [
      rpcTelemetryInterceptor(registry, { tracing: tracing.enabled }),
      requestInterceptor(logger),
      auth.interceptor,
      ...(config.auth.mode === 'jwt' ? [tenantLimitsInterceptor(config.limits, { registry })] : []),
      requestDeadlineInterceptor(config.requestTimeoutMs),
    ],
    readMaxBytes: READ_MAX_BYTES,
    // connect-node passes these to its JSON serialization; the type omits the decoder.
    jsonOptions: { textDecoder: strictJsonTextDecoder } as Parameters<typeof connectNodeAdapter>[0]['jsonOptions'],
  });
  const server = createDualProtocolServer(handler as DualProtocolHandler, { handshakeTimeoutMs: config.connectionHandshakeTimeoutMs });
  const address = await server.listen(config.port, config.host);
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  logger.info({ port: address.port, host: config.host }, 'task-api listening (gRPC, gRPC-Web, Connect)');
  const metrics = await startMetricsServer(registry, config.metrics, logger);

  let closing: Promise<void> | null = null;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    metricsUrl: metrics.url,
    watchStats: watching.stats,
    close() {
      closing ??= (async () => {
        // Watch streams end first (UNAVAILABLE: watch again), then the rest drains.
        const watchingClosed = watching.close();
        shutdown.abort();
        await server.close(config.shutdownGraceMs);
        // Each step is bounded, so a database or broker that stopped answering
        // cannot hold a shutdown (the relay may first wait out its batch's
        // confirms, which spares processors a second copy of each message).
        const step = (name: string, work: () => Promise<unknown>, ms = CLOSE_STEP_MS) => closeWithin(name, work, ms, logger);
        await step('stale-task sweeper', () => sweeper.stop());
        await step('idempotency key cleanup', () => keyCleanup.stop());
        await step('outbox due-time listener', () => dueListener.close());
        // The last requests' tasks are published now rather than when another
        // process (or this one's next start) finds them.
        await step('outbox flush', () => relay.flush(CLOSE_STEP_MS), CLOSE_STEP_MS + 1_000);
        await step('outbox relay', () => relay.stop(), config.amqpConfirmTimeoutMs + CLOSE_STEP_MS);
        await step('task stats', () => stats.close());
        await step('watching', () => watchingClosed);
        // An unreachable database would hold the pool's goodbye to each connection.
        await step('database pool', () => orm.close());
        await step('metrics server', () => metrics.close());
        await step('tracing', () => tracing.shutdown());
        logger.info('task-api stopped');
      })();
      return closing;
    },
  };
}

/** Runs one shutdown step, giving up (with a warning) after `ms`; a failure is logged, not thrown. */
async function closeWithin(name: string, work: () => Promise<unknown>, ms: number, logger: Logger): Promise<void> {
  const gaveUp = new AbortController();
  const finished = work().then(
    () => true,
    (error: unknown) => {
      logger.warn({ err: error, step: name }, 'shutdown step failed');
      return true;
    },
  );
  const late = sleep(ms, gaveUp.signal).then(
    () => false,
    () => true,
  );
  const inTime = await Promise.race([finished, late]);
  gaveUp.abort();
  if (!inTime) logger.warn({ step: name, waitedMs: ms }, 'shutdown step did not finish in time; going on');
}
