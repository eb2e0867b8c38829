import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { startGateway, type RunningGateway } from '@taskproc/gateway';
import { startProcessor, readProcessorConfig, type Processor } from '@taskproc/processor';
import { createLogger, type LogLevel } from '@taskproc/core';
import { startTaskApiHarness, type TaskApiHarness } from '../../../test/support/task-api-harness.js';
import { loadTestEnv } from '../../../test/support/test-env.js';

// The system the browser tests drive, as `make start` runs it: task-api, a
// processor and the embedded gateway serving the dashboard under /ui/ and
// passing its Connect calls through, each on a free port, with a database
// and queue namespace of their own. The dashboard is built from the current
// sources into a temporary folder first, so the tests never see a stale
// dashboard/dist.

export interface DashboardSystem {
  baseUrl: string;
  harness: TaskApiHarness;
  /** Attempts a failing task gets before it is failed. */
  maxAttempts: number;
  /** Starts the processor if it is not running (tests that need pending tasks to stay pending stop it). */
  startProcessor(): Promise<void>;
  stopProcessor(): Promise<void>;
  close(): Promise<void>;
}

const DASHBOARD_ROOT = fileURLToPath(new URL('../..', import.meta.url));
// The processor runs the example handler that fails on purpose for content
// starting with "fail" (examples/handlers/fail-on-purpose.ts) and succeeds
// after a short wait otherwise; two attempts, so a failing task's history
// shows a failed attempt, its backoff and the final failure.
const HANDLER = fileURLToPath(new URL('../../../examples/handlers/fail-on-purpose.ts', import.meta.url));
const MAX_ATTEMPTS = 2;

export async function buildDashboard(outDir: string): Promise<void> {
  await build({
    root: DASHBOARD_ROOT,
    configFile: join(DASHBOARD_ROOT, 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true, sourcemap: false },
  });
}

export interface DashboardSystemOptions {
  /** Settings of task-api beyond .env.test's (e.g. AUTH_MODE=jwt and its JWKS). */
  taskApiEnv?: Record<string, string>;
}

export async function startDashboardSystem(label: string, { taskApiEnv = {} }: DashboardSystemOptions = {}): Promise<DashboardSystem> {
  const env = loadTestEnv();
  const logLevel = (env.LOG_LEVEL ?? 'silent') as LogLevel;
  const uiDir = await mkdtemp(join(tmpdir(), 'taskproc-dashboard-'));
  let harness: TaskApiHarness | undefined;
  let processor: Processor | undefined;
  let gateway: RunningGateway | undefined;

  const startOwnProcessor = async () => {
    if (processor || !harness) return;
    const config = readProcessorConfig({
      ...env,
      DATABASE_URL: harness.database.url,
      QUEUE_NAMESPACE: harness.config.queueNamespace,
      TASK_HANDLER: HANDLER,
      TASK_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
    });
    processor = await startProcessor(config, createLogger('processor', config.logLevel));
  };
  const stopOwnProcessor = async () => {
    const running = processor;
    processor = undefined;
    await running?.close();
  };
  const close = async () => {
    await gateway?.close();
    await stopOwnProcessor();
    await harness?.close();
    await rm(uiDir, { recursive: true, force: true });
  };

  try {
    await buildDashboard(uiDir);
    harness = await startTaskApiHarness(label, (base) => ({ ...base, ...taskApiEnv }));
    await startOwnProcessor();
    gateway = await startGateway({ host: '127.0.0.1', port: 0, upstreamUrl: harness.api.url, logLevel, uiDir }, { logger: createLogger('gateway', logLevel) });
  } catch (error) {
    await close();
    throw error;
  }
  return {
    baseUrl: gateway.url,
    harness,
    maxAttempts: MAX_ATTEMPTS,
    startProcessor: startOwnProcessor,
    stopProcessor: stopOwnProcessor,
    close,
  };
}
