import { startTaskApi, readTaskApiConfig, type RunningTaskApi, type TaskApiConfig } from '@taskproc/task-api';
import { createLogger, taskTopology, type Logger, type TaskTopology } from '@taskproc/core';
import { createTestDatabase, type TestDatabase } from './test-database.js';
import { deleteNamespace, testNamespace } from './test-broker.js';
import { loadTestEnv } from './test-env.js';

export interface TaskApiHarness {
  api: RunningTaskApi;
  config: TaskApiConfig;
  database: TestDatabase;
  topology: TaskTopology;
  /** Stops the API and removes the test's database and queues. */
  close(): Promise<void>;
}

/**
 * A real task-api on a free port, with a database and queue namespace of its
 * own. `overrides` replace settings of .env.test (e.g. to route the database
 * or broker through a TcpProxy).
 */
export async function startTaskApiHarness(
  label: string,
  overrides: (env: Record<string, string>) => Record<string, string> = (env) => env,
  /** Where the task-api logs (default: .env.test's LOG_LEVEL, silent). */
  logger?: Logger,
): Promise<TaskApiHarness> {
  const base = loadTestEnv();
  const database = await createTestDatabase(base.DATABASE_URL!, label);
  const env = overrides({ ...base, DATABASE_URL: database.url, QUEUE_NAMESPACE: testNamespace(label) });
  const config = readTaskApiConfig(env);
  const api = await startTaskApi(config, logger ?? createLogger('task-api', config.logLevel));
  const topology = taskTopology(config.queueNamespace, config.queueDeliveryLimit);
  return {
    api,
    config,
    database,
    topology,
    async close() {
      await api.close();
      await deleteNamespace(base.AMQP_URL!, topology).catch(() => {});
      await database.drop();
    },
  };
}
