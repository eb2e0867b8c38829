import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { TaskService, TaskStatus } from '@taskproc/contract';
import { startTaskApiHarness, type TaskApiHarness } from '../../../test/support/task-api-harness.js';
import { startTcpProxy, type TcpProxy } from '../../../test/support/tcp-proxy.js';
import { loadTestEnv } from '../../../test/support/test-env.js';
import { waitFor } from '../../../test/support/wait-for.js';

// PostgreSQL lost without a reset (a broken network, a failed-over host):
// packets vanish, connections stay open. Every request must still end with
// UNAVAILABLE within the server's bounds (or RESOURCE_EXHAUSTED, at once,
// for creates past the group commit's queue limit), never INTERNAL and
// never a hang until the client's own deadline.

// Far beyond the server's bounds below: a request that reaches it was hung.
const CLIENT_DEADLINE_MS = 30_000;

let harness: TaskApiHarness;
let databaseProxy: TcpProxy;
let client: Client<typeof TaskService>;

beforeAll(async () => {
  databaseProxy = await startTcpProxy(loadTestEnv().DATABASE_URL!, 5432);
  harness = await startTaskApiHarness('db_blackhole', (e) => ({
    ...e,
    DATABASE_URL: databaseProxy.via(e.DATABASE_URL!),
    DATABASE_POOL_SIZE: '4',
    DATABASE_CONNECT_TIMEOUT_MS: '1000',
    DATABASE_ACQUIRE_TIMEOUT_MS: '2000',
    DATABASE_STATEMENT_TIMEOUT_MS: '1500',
    TASK_API_REQUEST_TIMEOUT_MS: '6000',
    // Two create statements in flight (half the pool), four more may wait.
    TASK_API_CREATE_QUEUE_LIMIT: '4',
  }));
  client = createClient(TaskService, createGrpcTransport({ baseUrl: harness.api.url }));
});

afterAll(async () => {
  databaseProxy?.unstall();
  await harness?.close();
  await databaseProxy?.close();
});

async function codeOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return 'OK';
  } catch (error) {
    return Code[ConnectError.from(error).code];
  }
}

describe('a database that stops answering', () => {
  it('answers every create, read and cancel UNAVAILABLE or RESOURCE_EXHAUSTED, then serves again once it is back', { timeout: 90_000 }, async () => {
    // Pooled connections exist and are idle: the blackhole catches them mid-use.
    const { task: existing } = await client.createTask({ content: 'before the blackhole' });
    await Promise.all(Array.from({ length: 4 }, () => client.getTask({ taskId: existing!.id })));

    databaseProxy.stall();
    const options = { timeoutMs: CLIENT_DEADLINE_MS };
    const calls = [
      ...Array.from({ length: 12 }, (_, i) => client.createTask({ content: `during the blackhole ${i}` }, options)),
      ...Array.from({ length: 3 }, () => client.getTask({ taskId: existing!.id }, options)),
      client.cancelTask({ taskId: existing!.id }, options),
    ];
    const codes = await Promise.all(calls.map(codeOf));
    // 2 creates in statements and 4 waiting: UNAVAILABLE; the other 6 found the queue full.
    expect(codes.slice(0, 12).filter((code) => code === 'ResourceExhausted')).toHaveLength(6);
    expect(codes.filter((code) => code !== 'ResourceExhausted')).toEqual(Array.from({ length: 10 }, () => 'Unavailable'));

    databaseProxy.unstall();
    const { task } = await waitFor(
      () => client.createTask({ content: 'after the blackhole' }, options),
      (response) => response.task?.status === TaskStatus.PENDING,
      { timeoutMs: 30_000, description: 'a create to succeed once the database is back' },
    );
    expect((await client.getTask({ taskId: task!.id })).task!.id).toBe(task!.id);
  });
});
