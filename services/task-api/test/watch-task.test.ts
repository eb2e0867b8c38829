import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { TaskService, TaskStatus, type Task } from '@taskproc/contract';
import { DEFAULT_TENANT, TaskStore, openOrm } from '@taskproc/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import { startTaskApiHarness, type TaskApiHarness } from '../../../test/support/task-api-harness.js';
import { waitFor } from '../../../test/support/wait-for.js';

// WatchTask and WatchTasks against a real task-api and PostgreSQL, over the
// three protocols task-api serves. Status changes are made with the store's
// own guarded statements (what the processor calls), so each step is known.

let harness: TaskApiHarness;
let orm: MikroORM;
let store: TaskStore;
const clients: Record<string, Client<typeof TaskService>> = {};

beforeAll(async () => {
  harness = await startTaskApiHarness('watch_task');
  orm = await openOrm({ databaseUrl: harness.database.url, poolSize: 2 });
  store = new TaskStore(orm);
  const baseUrl = harness.api.url;
  clients.grpc = createClient(TaskService, createGrpcTransport({ baseUrl }));
  clients.connect = createClient(TaskService, createConnectTransport({ baseUrl, httpVersion: '1.1' }));
  clients['grpc-web'] = createClient(TaskService, createGrpcWebTransport({ baseUrl, httpVersion: '1.1' }));
  // A change's message is shared by its watchers, pre-encoded for the
  // binary format: the JSON format needs the real one (shared-responses.ts).
  clients['connect-json'] = createClient(TaskService, createConnectTransport({ baseUrl, httpVersion: '1.1', useBinaryFormat: false }));
  clients['grpc-web-json'] = createClient(TaskService, createGrpcWebTransport({ baseUrl, httpVersion: '1.1', useBinaryFormat: false }));
});

afterAll(async () => {
  await orm?.close();
  await harness?.close();
});

/** Collects a stream's tasks (keep-alives left out) until it ends; `onTask` may act on each. */
async function collect(stream: AsyncIterable<{ task?: Task }>, onTask: (task: Task, index: number) => Promise<void> | void = () => {}) {
  const tasks: Task[] = [];
  for await (const message of stream) {
    if (!message.task) continue;
    tasks.push(message.task);
    await onTask(message.task, tasks.length - 1);
  }
  return tasks;
}

async function codeOf(stream: AsyncIterable<unknown>): Promise<{ code: Code | 'OK'; messages: number }> {
  let messages = 0;
  try {
    for await (const _ of stream) messages += 1;
    return { code: 'OK', messages };
  } catch (error) {
    return { code: ConnectError.from(error).code, messages };
  }
}

const statuses = (tasks: Task[]) => tasks.map((t) => `${TaskStatus[t.status]}/${t.updatedAt ? 'set' : 'unset'}`);

describe.each(['grpc', 'connect', 'grpc-web', 'connect-json', 'grpc-web-json'])('WatchTask over %s', (protocol) => {
  it('streams the task now, then every change in order, and ends after completed', async () => {
    const client = clients[protocol]!;
    const { task } = await client.createTask({ content: `watch ${protocol}` });
    const seen = await collect(client.watchTask({ taskId: task!.id }), async (current, index) => {
      if (index === 0) {
        const claim = await store.claim(current.id, { reclaim: false });
        // A re-claim (a holder died): same status, attempt + 1, its own change.
        const reclaim = await store.claim(current.id, { reclaim: true });
        await store.completeIfHeld(current.id, reclaim!.attempt);
        expect(claim).not.toBeNull();
      }
    });
    expect(statuses(seen)).toEqual(['PENDING/unset', 'PROCESSING/set', 'PROCESSING/set', 'COMPLETED/set']);
    const final = (await client.getTask({ taskId: task!.id })).task!;
    expect(seen.at(-1)).toEqual(final);
    expect(seen[0]!.content).toBe(`watch ${protocol}`);
  });

  it('ends with canceled when the task is canceled while processing', async () => {
    const client = clients[protocol]!;
    const { task } = await client.createTask({ content: 'cancel me' });
    await store.claim(task!.id, { reclaim: false });
    const seen = await collect(client.watchTask({ taskId: task!.id }), async (_current, index) => {
      if (index === 0) await client.cancelTask({ taskId: task!.id });
    });
    expect(statuses(seen)).toEqual(['PROCESSING/set', 'CANCELED/set']);
  });

  it('gives a watcher that comes after the end one message, then ends', async () => {
    const client = clients[protocol]!;
    const { task } = await client.createTask({ content: 'late' });
    await client.cancelTask({ taskId: task!.id });
    const seen = await collect(client.watchTask({ taskId: task!.id }));
    expect(statuses(seen)).toEqual(['CANCELED/set']);
  });

  it('answers NOT_FOUND before any message for a missing task, INVALID_ARGUMENT for a malformed id', async () => {
    const client = clients[protocol]!;
    expect(await codeOf(client.watchTask({ taskId: '0193f1f2-7c1e-7a55-9a0e-3f2b1c4d5e6f' }))).toEqual({ code: Code.NotFound, messages: 0 });
    expect(await codeOf(client.watchTask({ taskId: 'nope' }))).toEqual({ code: Code.InvalidArgument, messages: 0 });
  });
});

describe('WatchTasks', () => {
  it('streams every change of every task from the call on, optionally of one status', async () => {
    const all = new AbortController();
    const completedOnly = new AbortController();
    const allSeen: string[] = [];
    const completedSeen: string[] = [];
    const follow = async (stream: AsyncIterable<{ task?: Task }>, into: string[]) => {
      try {
        for await (const message of stream) if (message.task) into.push(`${message.task.content}:${TaskStatus[message.task.status]}`);
      } catch (error) {
        if (ConnectError.from(error).code !== Code.Canceled) throw error;
      }
    };
    const following = [
      follow(clients.grpc!.watchTasks({}, { signal: all.signal }), allSeen),
      follow(clients.connect!.watchTasks({ status: TaskStatus.COMPLETED }, { signal: completedOnly.signal }), completedSeen),
    ];
    await waitFor(() => harness.api.watchStats().streams, (n) => n === 2, { description: 'two watch streams' });
    const { task } = await clients.grpc!.createTask({ content: 'dash' });
    const claim = await store.claim(task!.id, { reclaim: false });
    await store.completeIfHeld(task!.id, claim!.attempt);
    await waitFor(() => [...allSeen, '|', ...completedSeen], (seen) => seen.length === 5, { description: 'changes on both streams' });
    expect(allSeen).toEqual(['dash:PENDING', 'dash:PROCESSING', 'dash:COMPLETED']);
    expect(completedSeen).toEqual(['dash:COMPLETED']);
    all.abort();
    completedOnly.abort();
    await Promise.all(following);
  });

  it('gives watchers of one change in the binary and the JSON format the same task', async () => {
    const stop = new AbortController();
    const formats = ['grpc', 'connect-json', 'grpc-web', 'grpc-web-json'] as const;
    const seen: Record<string, Task[]> = Object.fromEntries(formats.map((format) => [format, []]));
    const following = formats.map(async (format) => {
      try {
        for await (const message of clients[format]!.watchTasks({}, { signal: stop.signal })) if (message.task) seen[format]!.push(message.task);
      } catch (error) {
        if (ConnectError.from(error).code !== Code.Canceled) throw error;
      }
    });
    await waitFor(() => harness.api.watchStats().streams, (n) => n === formats.length, { description: 'a watch stream per format' });
    const { task } = await clients.grpc!.createTask({ content: 'one change, every format' });
    await clients.grpc!.cancelTask({ taskId: task!.id });
    await waitFor(() => formats.map((format) => seen[format]!.length), (counts) => counts.every((n) => n === 2), { description: 'both changes in every format' });
    stop.abort();
    await Promise.all(following);
    const final = (await clients.grpc!.getTask({ taskId: task!.id })).task!;
    for (const format of formats) {
      expect(seen[format]![0], format).toEqual(task);
      expect(seen[format]![1], format).toEqual(final);
    }
  });
});

describe('the listening connection', () => {
  it('loses no change when its backend is terminated mid-watch', async () => {
    const { task } = await clients.grpc!.createTask({ content: 'through a reconnect' });
    const id = task!.id;
    const listenerPid = async () =>
      (await harness.database.query<{ pid: number; backend_start: string }>(
        `select pid, backend_start::text from pg_stat_activity
          where datname = current_database() and application_name = 'taskproc-task-api-watch'`,
      ))[0];
    const before = await waitFor(listenerPid, Boolean, { description: 'the listening backend' });
    const seen = await collect(clients.grpc!.watchTask({ taskId: id }), async (_current, index) => {
      if (index !== 0) return;
      // Terminate the listener and, in the same transaction once it is gone,
      // claim the task: the notice of that change reaches no listener.
      const [row] = await harness.database.query<{ changed_at: string }>(
        `with gone as (select pg_terminate_backend($1, 5000) as ok)
         update task set status = 'processing', attempt = attempt + 1, updated_at = clock_timestamp()
          from gone where id = $2 and gone.ok returning updated_at::text as changed_at`,
        [before!.pid, id],
      );
      expect(row).toBeDefined();
      const after = await waitFor(listenerPid, (r) => r !== undefined && r.pid !== before!.pid, { timeoutMs: 20_000, description: 'a new listening backend' });
      // The claim committed before the new listener even connected.
      const [order] = await harness.database.query<{ missed: boolean }>(`select $1::timestamptz < $2::timestamptz as missed`, [row!.changed_at, after!.backend_start]);
      expect(order!.missed).toBe(true);
      const held = await store.get(DEFAULT_TENANT, id);
      await store.completeIfHeld(id, held.attempt);
    });
    expect(statuses(seen)).toEqual(['PENDING/unset', 'PROCESSING/set', 'COMPLETED/set']);
    expect(harness.api.watchStats().catchUps).toBeGreaterThan(0);
  });
});
