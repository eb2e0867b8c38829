import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { TaskService, health } from '@taskproc/contract';
import { startTaskApiHarness, type TaskApiHarness } from '../../../test/support/task-api-harness.js';
import { startTcpProxy, type TcpProxy } from '../../../test/support/tcp-proxy.js';
import { loadTestEnv } from '../../../test/support/test-env.js';
import { waitFor } from '../../../test/support/wait-for.js';

// Health as load balancers and probes see it, with the database reachable and
// not: the standard grpc.health.v1 service and the REST health RPC.

let harness: TaskApiHarness;
let databaseProxy: TcpProxy;

beforeAll(async () => {
  databaseProxy = await startTcpProxy(loadTestEnv().DATABASE_URL!, 5432);
  harness = await startTaskApiHarness('health', (e) => ({ ...e, DATABASE_URL: databaseProxy.via(e.DATABASE_URL!) }));
});

afterAll(async () => {
  databaseProxy?.unblock();
  await harness?.close();
  await databaseProxy?.close();
});

describe('health', () => {
  const transport = () => createGrpcTransport({ baseUrl: harness.api.url });

  it('is SERVING while the database is reachable and NOT_SERVING while it is not', async () => {
    const healthClient = createClient(health.Health, transport());
    const tasks = createClient(TaskService, transport());
    const check = async () => (await healthClient.check({ service: '' })).status;
    // Ready once the outbox relay has reached the broker too (see broker-readiness.test.ts).
    await waitFor(check, (s) => s === health.HealthCheckResponse_ServingStatus.SERVING, { description: 'SERVING after start' });
    expect(await healthClient.check({ service: 'taskproc.v1.TaskService' })).toMatchObject({
      status: health.HealthCheckResponse_ServingStatus.SERVING,
    });

    databaseProxy.block();
    await waitFor(check, (s) => s === health.HealthCheckResponse_ServingStatus.NOT_SERVING, {
      description: 'NOT_SERVING while the database is blocked',
    });
    const error = await tasks.checkHealth({}).catch((e: unknown) => ConnectError.from(e));
    expect((error as ConnectError).code).toBe(Code.Unavailable);
    const createError = await tasks.createTask({ content: 'x' }).catch((e: unknown) => ConnectError.from(e));
    expect((createError as ConnectError).code).toBe(Code.Unavailable);
    expect((createError as ConnectError).rawMessage).toBe('the database is unavailable');

    databaseProxy.unblock();
    await waitFor(check, (s) => s === health.HealthCheckResponse_ServingStatus.SERVING, {
      timeoutMs: 15_000,
      description: 'SERVING again once the database is back',
    });
  });
});
