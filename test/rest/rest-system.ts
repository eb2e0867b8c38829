import { devKeyFiles, signDevToken } from '@taskproc/client/dev-tokens';
import { startGateway, type RunningGateway } from '@taskproc/gateway';
import { startProcessor, readProcessorConfig, type Processor } from '@taskproc/processor';
import { createLogger, type LogLevel } from '@taskproc/core';
import { startTaskApiHarness, type TaskApiHarness } from '../support/task-api-harness.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { loadTestEnv } from '../support/test-env.js';
import type { TestDatabase } from '../support/test-database.js';

// The system the REST contract suite talks to: an Envoy named by
// REST_BASE_URL (the docker compose test stack), or by default the embedded
// gateway started here in front of a real task-api and a real processor,
// with a database and queue namespace of their own.

export interface RestSystem {
  baseUrl: string;
  /**
   * Headers every request needs: a bearer token for a tenant of its own
   * when the deployment authenticates (TASKCTL_SIGNING_KEY_DIR names its
   * development signing key; docker-compose.test.yml mounts it).
   */
  headers: Record<string, string>;
  /** How long the processor works on one task. */
  processingDurationMs: number;
  /**
   * Makes the database unreachable for task-api alone (the processor keeps
   * its own connection). Only when this suite runs the system itself.
   */
  databaseFault?: { block(): void; unblock(): void; stall(): void; unstall(): void };
  /** The system's own database (for setup and assertions), when this suite runs the system itself. */
  database?: TestDatabase;
  close(): Promise<void>;
}

// Long enough that "processing" is observed and a cancel lands while it
// lasts; short enough to keep the life-cycle tests quick.
const OWN_PROCESSING_DURATION_MS = 1_500;

/**
 * `ownSystem` starts the system here even when REST_BASE_URL names one: for
 * rows that need to make a fault happen to task-api alone.
 */
export async function startRestSystem(label: string, options: { ownSystem?: boolean } = {}): Promise<RestSystem> {
  const env = loadTestEnv();
  const external = options.ownSystem ? undefined : process.env.REST_BASE_URL;
  if (external) {
    const keyDir = process.env.TASKCTL_SIGNING_KEY_DIR;
    const token = keyDir ? await signDevToken({ signingKeyFile: devKeyFiles(keyDir).signingKeyFile, tenant: `suite-${label}` }) : undefined;
    return {
      baseUrl: external.replace(/\/$/, ''),
      headers: token ? { authorization: `Bearer ${token}` } : {},
      // The deployment's processors' setting, not .env.test's:
      // docker-compose.test.yml gives this runner the value it gives them
      // (3000 ms, the default, when nothing says otherwise).
      processingDurationMs: Number(process.env.PROCESSING_DURATION_MS ?? 3_000),
      close: async () => {},
    };
  }

  const databaseProxy: TcpProxy = await startTcpProxy(env.DATABASE_URL!, 5432);
  let harness: TaskApiHarness | undefined;
  let processor: Processor | undefined;
  let gateway: RunningGateway | undefined;
  const close = async () => {
    databaseProxy.unblock();
    databaseProxy.unstall();
    await gateway?.close();
    await processor?.close();
    await harness?.close();
    await databaseProxy.close();
  };
  try {
    harness = await startTaskApiHarness(label, (e) => ({ ...e, DATABASE_URL: databaseProxy.via(e.DATABASE_URL!) }));
    const processorConfig = readProcessorConfig({
      ...env,
      DATABASE_URL: harness.database.url,
      QUEUE_NAMESPACE: harness.config.queueNamespace,
      PROCESSING_DURATION_MS: String(OWN_PROCESSING_DURATION_MS),
    });
    processor = await startProcessor(processorConfig, createLogger('processor', processorConfig.logLevel));
    const logLevel = (env.LOG_LEVEL ?? 'silent') as LogLevel;
    gateway = await startGateway(
      { host: '127.0.0.1', port: 0, upstreamUrl: harness.api.url, logLevel },
      { logger: createLogger('gateway', logLevel) },
    );
  } catch (error) {
    await close();
    throw error;
  }
  return {
    baseUrl: gateway.url,
    // This system's task-api runs without authentication (.env.test).
    headers: {},
    processingDurationMs: OWN_PROCESSING_DURATION_MS,
    databaseFault: {
      block: () => databaseProxy.block(),
      unblock: () => databaseProxy.unblock(),
      stall: () => databaseProxy.stall(),
      unstall: () => databaseProxy.unstall(),
    },
    database: harness.database,
    close,
  };
}
