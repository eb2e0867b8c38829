import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, ConnectError, createClient, type Client, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import { TaskService, TaskStatus, type Task } from '@taskproc/contract';
import { TaskFailureStore, TaskStore, openOrm } from '@taskproc/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import { startTenantHeaderApi, TEST_TENANT_HEADER, type TenantHeaderApi } from './support/tenant-header-api.js';
import { waitFor } from '../../../test/support/wait-for.js';

// Two tenants on one task-api and one database: each sees, changes,
// watches and counts its own tasks only, and another tenant's task gets
// exactly what a missing one gets. The tenant comes from a test-only header
// (support/tenant-header-api.ts) where a deployment reads the token.

let api: TenantHeaderApi;
let orm: MikroORM;
let store: TaskStore;
let failures: TaskFailureStore;

/** A client of the TaskService speaking as `tenant` (null: no tenant named, the default one). */
function clientOf(tenant: string | null, protocol: 'grpc' | 'connect' = 'grpc'): Client<typeof TaskService> {
  const asTenant: Interceptor = (next) => (request) => {
    if (tenant !== null) request.header.set(TEST_TENANT_HEADER, tenant);
    return next(request);
  };
  const transport =
    protocol === 'grpc'
      ? createGrpcTransport({ baseUrl: api.url, interceptors: [asTenant] })
      : createConnectTransport({ baseUrl: api.url, httpVersion: '1.1', interceptors: [asTenant] });
  return createClient(TaskService, transport);
}

let a: Client<typeof TaskService>;
let b: Client<typeof TaskService>;

beforeAll(async () => {
  api = await startTenantHeaderApi('tenant_isolation');
  orm = await openOrm({ databaseUrl: api.database.url, poolSize: 2 });
  store = new TaskStore(orm);
  failures = new TaskFailureStore(orm);
  a = clientOf('tenant-a');
  b = clientOf('tenant-b');
});

afterAll(async () => {
  await orm?.close();
  await api?.close();
});

const RANDOM_ID = '0193f1f2-7c1e-7a55-9a0e-3f2b1c4d5e6f';

/** The error of a call, as a client sees it; 'OK' when it succeeded. */
async function errorOf(call: Promise<unknown>): Promise<{ code: Code; message: string } | 'OK'> {
  try {
    await call;
    return 'OK';
  } catch (error) {
    const e = ConnectError.from(error);
    return { code: e.code, message: e.rawMessage };
  }
}

/** The first message of a server stream, or its error. */
async function firstOf(stream: AsyncIterable<unknown>): Promise<unknown> {
  for await (const message of stream) return message;
  return 'ended';
}

/** A task of tenant A in each status a client can meet: pending, canceled, failed. */
async function tasksOfA(label: string): Promise<{ pending: Task; canceled: Task; failed: Task }> {
  const pending = (await a.createTask({ content: `${label} pending` })).task!;
  const canceled = (await a.createTask({ content: `${label} canceled` })).task!;
  await a.cancelTask({ taskId: canceled.id });
  const failed = (await a.createTask({ content: `${label} failed` })).task!;
  const claim = await store.claim(failed.id, { reclaim: false });
  await failures.failIfHeld(failed.id, claim!.attempt, 'boom', { failedAttempt: true });
  return { pending, canceled, failed };
}

describe("another tenant's task is NOT_FOUND, exactly like a missing one", () => {
  it('for GetTask, CancelTask, RetryTask, ListTaskEvents and WatchTask, in every status', async () => {
    const tasks = await tasksOfA('hidden');
    const notFound = (id: string) => ({ code: Code.NotFound, message: `task ${id} not found` });
    for (const task of Object.values(tasks)) {
      const taskId = task.id;
      expect(await errorOf(b.getTask({ taskId })), 'get').toEqual(notFound(taskId));
      expect(await errorOf(b.cancelTask({ taskId })), 'cancel').toEqual(notFound(taskId));
      expect(await errorOf(b.retryTask({ taskId })), 'retry').toEqual(notFound(taskId));
      expect(await errorOf(b.listTaskEvents({ taskId })), 'events').toEqual(notFound(taskId));
      expect(await errorOf(firstOf(b.watchTask({ taskId }))), 'watch').toEqual(notFound(taskId));
    }
    // Nothing B asked changed anything of A's.
    expect((await a.getTask({ taskId: tasks.pending.id })).task!.status).toBe(TaskStatus.PENDING);
    expect((await a.getTask({ taskId: tasks.failed.id })).task!.status).toBe(TaskStatus.FAILED);
    expect((await a.listTaskEvents({ taskId: tasks.canceled.id })).events.map((e) => e.status)).toEqual([TaskStatus.PENDING, TaskStatus.CANCELED]);
    // A itself still gets what the task's state says.
    expect(await errorOf(a.cancelTask({ taskId: tasks.canceled.id }))).toMatchObject({ code: Code.FailedPrecondition });
    expect(await errorOf(a.retryTask({ taskId: tasks.pending.id }))).toMatchObject({ code: Code.FailedPrecondition });
    expect((await a.retryTask({ taskId: tasks.failed.id })).task!.status).toBe(TaskStatus.PENDING);
    expect((await firstOf(a.watchTask({ taskId: tasks.canceled.id })) as { task: Task }).task.id).toBe(tasks.canceled.id);
  });

  it('byte for byte on the wire: the same status, headers and body as for a random id', async () => {
    const { pending } = await tasksOfA('wire');
    // The Connect protocol's JSON over HTTP/1.1, read raw: the whole answer, not a client's view of it.
    const answer = async (procedure: string, taskId: string) => {
      const response = await fetch(`${api.url}/${TaskService.typeName}/${procedure}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [TEST_TENANT_HEADER]: 'tenant-b' },
        body: JSON.stringify({ taskId }),
      });
      const headers: [string, string][] = [];
      response.headers.forEach((value, name) => {
        if (name !== 'date') headers.push([name, value]);
      });
      return { status: response.status, headers, body: (await response.text()).replaceAll(taskId, '<id>') };
    };
    for (const procedure of ['GetTask', 'CancelTask', 'RetryTask', 'ListTaskEvents']) {
      const hidden = await answer(procedure, pending.id);
      expect(hidden, procedure).toEqual(await answer(procedure, RANDOM_ID));
      expect(hidden.status).toBe(404);
      expect(JSON.parse(hidden.body)).toEqual({ code: 'not_found', message: 'task <id> not found' });
    }
  });
});

describe('listing', () => {
  it("leaves A's tasks out of B's pages, for every filter and through page tokens", async () => {
    const lister = clientOf('lister-b');
    await tasksOfA('listed');
    const own: string[] = [];
    for (let i = 0; i < 7; i += 1) own.push((await lister.createTask({ content: `mine ${i}` })).task!.id);
    await lister.cancelTask({ taskId: own[3]! });
    for (const status of [TaskStatus.UNSPECIFIED, TaskStatus.PENDING, TaskStatus.CANCELED, TaskStatus.FAILED, TaskStatus.COMPLETED]) {
      const seen: string[] = [];
      let pageToken = '';
      do {
        const page = await lister.listTasks({ status, pageSize: 2, pageToken });
        seen.push(...page.tasks.map((t) => t.id));
        pageToken = page.nextPageToken;
      } while (pageToken !== '');
      const expected = own.filter((id, i) => status === TaskStatus.UNSPECIFIED || (status === TaskStatus.CANCELED ? i === 3 : status === TaskStatus.PENDING && i !== 3));
      expect(seen, TaskStatus[status]).toEqual(expected.reverse());
    }
  });

  it("refuses A's page token to B as a token it never issued", async () => {
    for (let i = 0; i < 3; i += 1) await a.createTask({ content: `paged ${i}` });
    const { nextPageToken } = await a.listTasks({ pageSize: 1 });
    expect(nextPageToken).not.toBe('');
    expect((await a.listTasks({ pageSize: 1, pageToken: nextPageToken })).tasks).toHaveLength(1);
    expect(await errorOf(b.listTasks({ pageSize: 1, pageToken: nextPageToken }))).toEqual({
      code: Code.InvalidArgument,
      message: 'page_token is not a token this service issued',
    });
  });
});

describe('watching', () => {
  it("shows WatchTasks the changes of the watcher's tenant only", async () => {
    const watcherA = clientOf('watch-a');
    const watcherB = clientOf('watch-b');
    const seen = { a: [] as string[], b: [] as string[] };
    const controller = new AbortController();
    const follow = async (client: Client<typeof TaskService>, into: string[]) => {
      try {
        for await (const message of client.watchTasks({}, { signal: controller.signal })) {
          if (message.task) into.push(`${message.task.content}/${TaskStatus[message.task.status]}`);
        }
      } catch (error) {
        if (ConnectError.from(error).code !== Code.Canceled) throw error;
      }
    };
    const streams = [follow(watcherA, seen.a), follow(watcherB, seen.b)];
    // Both streams are open once each sees a change of its own.
    await waitFor(
      async () => {
        await watcherA.createTask({ content: 'a ready' });
        await watcherB.createTask({ content: 'b ready' });
        return seen.a.length > 0 && seen.b.length > 0;
      },
      Boolean,
      { description: 'both watch streams open' },
    );
    const task = (await watcherA.createTask({ content: 'a only' })).task!;
    await watcherA.cancelTask({ taskId: task.id });
    // B's change commits after A's: had A's leaked, B would have seen it first.
    await watcherB.createTask({ content: 'b last' });
    await waitFor(() => seen.b.includes('b last/PENDING'), Boolean, { description: "B's last change" });
    await waitFor(() => seen.a.includes('a only/CANCELED'), Boolean, { description: "A's cancel" });
    controller.abort();
    await Promise.all(streams);
    expect(seen.b.every((s) => s.startsWith('b '))).toBe(true);
    expect(seen.a.every((s) => s.startsWith('a '))).toBe(true);
    expect(seen.a).toEqual(expect.arrayContaining(['a only/PENDING', 'a only/CANCELED']));
  });
});

describe('creates', () => {
  it('gives two tenants using one request_id a task each, whatever their content', async () => {
    const first = (await a.createTask({ content: 'keyed by A', requestId: 'shared-request' })).task!;
    const second = (await b.createTask({ content: 'keyed by B', requestId: 'shared-request' })).task!;
    expect(second.id).not.toBe(first.id);
    expect(second.content).toBe('keyed by B');
    // Each tenant's repeat finds its own task; other content conflicts within a tenant only.
    expect((await a.createTask({ content: 'keyed by A', requestId: 'shared-request' })).task!.id).toBe(first.id);
    expect((await b.createTask({ content: 'keyed by B', requestId: 'shared-request' })).task!.id).toBe(second.id);
    expect(await errorOf(a.createTask({ content: 'keyed by B', requestId: 'shared-request' }))).toMatchObject({ code: Code.AlreadyExists });
    const [batched] = (await clientOf('tenant-c').batchCreateTasks({ requests: [{ content: 'keyed by C', requestId: 'shared-request' }] })).tasks;
    expect([first.id, second.id]).not.toContain(batched!.id);
    expect(await errorOf(b.getTask({ taskId: first.id }))).toMatchObject({ code: Code.NotFound });
  });

  it('keeps the tenant of each create when concurrent creates of several tenants share a statement', async () => {
    const tenants = ['mix-1', 'mix-2', 'mix-3'];
    const clients = tenants.map((tenant) => clientOf(tenant));
    const created = await Promise.all(
      Array.from({ length: 60 }, (_, i) => clients[i % 3]!.createTask({ content: `mix ${i}`, requestId: `mix-key-${Math.floor(i / 3)}` })),
    );
    const rows = await api.database.query<{ id: string; tenant: string; content: string }>(`select id, tenant, content from task where content like 'mix %'`);
    expect(rows).toHaveLength(60);
    const tenantOfTask = new Map(rows.map((row) => [row.id, row.tenant]));
    created.forEach(({ task }, i) => expect(tenantOfTask.get(task!.id), task!.content).toBe(tenants[i % 3]));
    // Every tenant used each key once: 60 keys, 20 per tenant.
    const keys = await api.database.query<{ tenant: string; n: string }>(
      `select tenant, count(*) as n from idempotency_key where request_id like 'mix-key-%' group by tenant order by tenant`,
    );
    expect(keys).toEqual(tenants.map((tenant) => ({ tenant, n: '20' })));
  });
});

describe('GetTaskStats', () => {
  it("counts the caller's tasks and outbox entries only", async () => {
    const one = clientOf('stats-1');
    const two = clientOf('stats-2');
    for (let i = 0; i < 3; i += 1) await one.createTask({ content: `stats ${i}` });
    const canceled = (await one.createTask({ content: 'stats canceled' })).task!;
    await one.cancelTask({ taskId: canceled.id });
    await two.createTask({ content: 'stats other' });
    const counts = async (client: Client<typeof TaskService>) => {
      const stats = await client.getTaskStats({});
      return {
        byStatus: Object.fromEntries(stats.counts.filter((c) => c.count > 0n).map((c) => [TaskStatus[c.status], Number(c.count)])),
        outbox: Number(stats.outboxBacklog),
      };
    };
    // No relay runs here: every create's outbox entry is still there.
    expect(await counts(one)).toEqual({ byStatus: { PENDING: 3, CANCELED: 1 }, outbox: 4 });
    expect(await counts(two)).toEqual({ byStatus: { PENDING: 1 }, outbox: 1 });
    expect(await counts(clientOf('stats-nobody'))).toEqual({ byStatus: {}, outbox: 0 });
  });
});

describe('without a tenant', () => {
  it('serves the default tenant, over both protocols', async () => {
    const task = (await clientOf(null).createTask({ content: 'no tenant named' })).task!;
    expect((await clientOf('default', 'connect').getTask({ taskId: task.id })).task!.id).toBe(task.id);
    expect(await errorOf(a.getTask({ taskId: task.id }))).toMatchObject({ code: Code.NotFound });
    const [row] = await api.database.query<{ tenant: string }>(`select tenant from task where id = $1`, [task.id]);
    expect(row!.tenant).toBe('default');
  });
});
