import type { AddressInfo } from 'node:net';
import { createContextValues, type Interceptor } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { TaskFailureStore, TaskStore, createLogger, openOrm, taskTopology, type Logger } from '@taskproc/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import { readTaskApiConfig } from '../../src/config.js';
import { tenantKey } from '../../src/auth/tenant.js';
import { createGroupCommit, groupCommitSettings } from '../../src/group-commit.js';
import { requestInterceptor } from '../../src/interceptors.js';
import { createRoutes } from '../../src/routes.js';
import { createDualProtocolServer, type DualProtocolHandler } from '../../src/server.js';
import { createTaskStats } from '../../src/task-stats.js';
import { nodeRequestKey } from '../../src/watching/watch-handlers.js';
import { startWatching } from '../../src/watching/watching.js';
import { createTestDatabase, type TestDatabase } from '../../../../test/support/test-database.js';
import { testNamespace } from '../../../../test/support/test-broker.js';
import { loadTestEnv } from '../../../../test/support/test-env.js';

// TEST ONLY. The TaskService as app.ts assembles it (the same handlers,
// stores, group commit, watching, stats and error mapping), on a free port,
// with one difference: the caller's tenant comes from the request header
// TEST_TENANT_HEADER instead of a verified token, so tests can speak as any
// tenant without minting tokens. Nothing like it exists outside tests: a
// deployment takes the tenant from the authentication interceptor only.

/** The request header this test server takes the caller's tenant from (absent: the default tenant). */
export const TEST_TENANT_HEADER = 'x-test-tenant';

/** Sets tenantKey from TEST_TENANT_HEADER. Never for a real server: any client could name any tenant. */
export function testTenantInterceptor(): Interceptor {
  return (next) => (request) => {
    const tenant = request.header.get(TEST_TENANT_HEADER);
    if (tenant !== null) request.contextValues.set(tenantKey, tenant);
    return next(request);
  };
}

export interface TenantHeaderApi {
  url: string;
  database: TestDatabase;
  close(): Promise<void>;
}

export async function startTenantHeaderApi(label: string, logger: Logger = createLogger('task-api', 'silent')): Promise<TenantHeaderApi> {
  const base = loadTestEnv();
  const database = await createTestDatabase(base.DATABASE_URL!, label);
  const config = readTaskApiConfig({ ...base, DATABASE_URL: database.url, QUEUE_NAMESPACE: testNamespace(label) });
  const orm: MikroORM = await openOrm({ databaseUrl: config.databaseUrl, poolSize: config.databasePoolSize, logger });
  const store = new TaskStore(orm, { idempotencyKeyLifetimeMs: config.idempotencyKeyLifetimeMs });
  const stats = createTaskStats(orm, { amqpUrl: config.amqpUrl, topology: taskTopology(config.queueNamespace, config.queueDeliveryLimit) }, logger);
  const watching = startWatching(orm, config, logger);
  const handler = connectNodeAdapter({
    routes: createRoutes({
      store,
      failures: new TaskFailureStore(orm),
      createTask: createGroupCommit(store, groupCommitSettings(config)),
      createTasks: (items) => store.createTasksAtomically(items),
      // No outbox relay: tasks stay pending, and every outbox entry stays (stats count them).
      onTaskCommitted: () => undefined,
      probeDatabase: async () => true,
      stats,
      watching,
    }),
    contextValues: (request) => createContextValues().set(nodeRequestKey, request),
    interceptors: [testTenantInterceptor(), requestInterceptor(logger)],
  });
  const server = createDualProtocolServer(handler as DualProtocolHandler, { handshakeTimeoutMs: config.connectionHandshakeTimeoutMs });
  const address: AddressInfo = await server.listen(0, '127.0.0.1');
  return {
    url: `http://127.0.0.1:${address.port}`,
    database,
    async close() {
      await watching.close();
      await server.close(1_000);
      await stats.close();
      await orm.close();
      await database.drop();
    },
  };
}
