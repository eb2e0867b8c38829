import { connectNodeAdapter } from '@connectrpc/connect-node';
import {
  TaskFailureStore,
  TaskStore,
  createLogger,
  databaseTimeouts,
  openOrm,
  sleep,
  taskTopology,
  type Logger,
} from '@taskproc/core';
import type { TaskApiConfig } from './config.js';
import { createDatabaseProbe } from './database-probe.js';
import { createGroupCommit, groupCommitSettings } from './group-commit.js';
import { requestInterceptor } from './interceptors.js';
import { OutboxDueListener } from './outbox-due-listener.js';
import { OutboxRelay } from './outbox-relay.js';
import { createReadinessProbe } from './readiness.js';
import { requestDeadlineInterceptor } from './request-deadline.js';
import { createRoutes } from './routes.js';
import { createDualProtocolServer, type DualProtocolHandler } from './server.js';
import { StaleTaskSweeper } from './stale-task-sweeper.js';
import { markInvalidUtf8InBinaryStrings, strictJsonTextDecoder } from './utf8.js';

export type { TaskApiConfig } from './config.js';
export { readTaskApiConfig } from './config.js';

export interface RunningTaskApi {
  /** Base URL of the ConnectRPC server, e.g. http://127.0.0.1:50051 */
  url: string;
  port: number;
  /** Ordered, repeat-safe shutdown: stop accepting, drain requests, stop the relay, close the ORM. */
  close(): Promise<void>;
}

// Bodies larger than this are refused before decoding. It sits above the
// gateway's 1 MiB REST limit so that a content over 65,536 bytes gets the
// contract's INVALID_ARGUMENT, not a transport error.
const READ_MAX_BYTES = 2 * 1024 * 1024;
/** Longest the last shutdown step (closing the pool) may take. */
const ORM_CLOSE_TIMEOUT_MS = 2_000;

/** Starts the task-api: ORM, outbox relay and the ConnectRPC server on one port. */
export async function startTaskApi(config: TaskApiConfig, logger: Logger = createLogger('task-api', config.logLevel)): Promise<RunningTaskApi> {
  markInvalidUtf8InBinaryStrings();
  const orm = await openOrm({
    databaseUrl: config.databaseUrl,
    poolSize: config.databasePoolSize,
    timeouts: databaseTimeouts(config),
    logger,
  });
  const store = new TaskStore(orm, { staleAfterMs: config.taskStaleAfterMs });
  const relay = new OutboxRelay(
    orm,
    {
      amqpUrl: config.amqpUrl,
      topology: taskTopology(config.queueNamespace, config.queueDeliveryLimit),
      batchSize: config.outboxBatchSize,
      pollIntervalMs: config.outboxPollIntervalMs,
      connectTimeoutMs: config.amqpConnectTimeoutMs,
      confirmTimeoutMs: config.amqpConfirmTimeoutMs,
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

  const probeDatabase = createDatabaseProbe(orm);
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
        failures: new TaskFailureStore(orm),
        createTask: createGroupCommit(store, groupCommitSettings(config)),
        onTaskCommitted,
        probeDatabase,
      },
      createReadinessProbe(probeDatabase, () => relay.health(), logger.child({ component: 'readiness' })),
    ),
    // Outermost first: the deadline's UNAVAILABLE is mapped and logged like any other error.
    interceptors: [requestInterceptor(logger), requestDeadlineInterceptor(config.requestTimeoutMs)],
    readMaxBytes: READ_MAX_BYTES,
    // connect-node passes these to its JSON serialization; the type omits the decoder.
    jsonOptions: { textDecoder: strictJsonTextDecoder } as Parameters<typeof connectNodeAdapter>[0]['jsonOptions'],
  });
  const server = createDualProtocolServer(handler as DualProtocolHandler, { handshakeTimeoutMs: config.connectionHandshakeTimeoutMs });
  const address = await server.listen(config.port, config.host);
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  logger.info({ port: address.port, host: config.host }, 'task-api listening (gRPC, gRPC-Web, Connect)');

  let closing: Promise<void> | null = null;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    close() {
      closing ??= (async () => {
        shutdown.abort();
        await server.close(config.shutdownGraceMs);
        await sweeper.stop();
        await dueListener.stop();
        await relay.stop();
        // An unreachable database would hold the pool's goodbye to each connection.
        const gaveUp = new AbortController();
        await Promise.race([orm.close().finally(() => gaveUp.abort()), sleep(ORM_CLOSE_TIMEOUT_MS, gaveUp.signal)]).catch(() => undefined);
        logger.info('task-api stopped');
      })();
      return closing;
    },
  };
}
