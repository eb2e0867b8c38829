import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { TaskService, TaskStatus, type Task } from '@taskproc/contract';
import { TaskStore, openOrm } from '@taskproc/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import { startTaskApiHarness, type TaskApiHarness } from '../../../test/support/task-api-harness.js';

// ListTasks and ListTaskEvents against a real task-api and PostgreSQL.

let harness: TaskApiHarness;
let orm: MikroORM;
let store: TaskStore;
let client: Client<typeof TaskService>;

beforeAll(async () => {
  harness = await startTaskApiHarness('list_tasks');
  orm = await openOrm({ databaseUrl: harness.database.url, poolSize: 2 });
  store = new TaskStore(orm);
  client = createClient(TaskService, createGrpcTransport({ baseUrl: harness.api.url }));
});

afterAll(async () => {
  await orm?.close();
  await harness?.close();
});

async function codeOf(call: Promise<unknown>): Promise<Code | 'OK'> {
  try {
    await call;
    return 'OK';
  } catch (error) {
    return ConnectError.from(error).code;
  }
}

async function messageOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return '';
  } catch (error) {
    return ConnectError.from(error).rawMessage;
  }
}

/** Every page of a listing, in order. */
async function walk(request: { status?: TaskStatus; pageSize?: number }, between: () => Promise<void> = async () => {}) {
  const pages: Task[][] = [];
  let pageToken = '';
  do {
    const page = await client.listTasks({ ...request, pageToken });
    pages.push(page.tasks);
    pageToken = page.nextPageToken;
    await between();
  } while (pageToken !== '');
  return pages;
}

/** `count` pending tasks inserted in one statement, with distinct creation times. */
async function insertTasks(count: number, content: string): Promise<void> {
  await harness.database.query(
    `insert into task (id, content, status, attempt, created_at)
     select gen_random_uuid(), $2 || n, 'pending', 0, clock_timestamp() - make_interval(secs => n)
       from generate_series(1, $1) as n`,
    [count, content],
  );
}

describe('ListTasks', () => {
  it('lists an empty table as one empty last page', async () => {
    const page = await client.listTasks({});
    expect(page.tasks).toEqual([]);
    expect(page.nextPageToken).toBe('');
  });

  it('walks every task exactly once, newest first, while tasks are being created', async () => {
    const existing: string[] = [];
    for (let i = 0; i < 23; i += 1) existing.push((await client.createTask({ content: `walk ${i}` })).task!.id);
    const createdMeanwhile: string[] = [];
    const pages = await walk({ pageSize: 5 }, async () => {
      createdMeanwhile.push((await client.createTask({ content: 'meanwhile' })).task!.id);
    });
    expect(pages.map((page) => page.length)).toEqual([5, 5, 5, 5, 3]);
    const ids = pages.flat().map((task) => task.id);
    expect(ids).toEqual([...existing].reverse());
    expect(ids.some((id) => createdMeanwhile.includes(id))).toBe(false);
    // Newest first by (created_at, id).
    const listed = pages.flat();
    for (let i = 1; i < listed.length; i += 1) {
      const [a, b] = [listed[i - 1]!, listed[i]!];
      const order = Number(a.createdAt!.seconds - b.createdAt!.seconds) || a.createdAt!.nanos - b.createdAt!.nanos;
      expect(order > 0 || (order === 0 && a.id > b.id)).toBe(true);
    }
  });

  it('filters by status across pages', async () => {
    const canceled: string[] = [];
    for (let i = 0; i < 7; i += 1) {
      const { task } = await client.createTask({ content: `to cancel ${i}` });
      await client.cancelTask({ taskId: task!.id });
      canceled.push(task!.id);
    }
    const pages = await walk({ status: TaskStatus.CANCELED, pageSize: 3 });
    expect(pages.flat().map((task) => task.id)).toEqual([...canceled].reverse());
    expect(pages.flat().every((task) => task.status === TaskStatus.CANCELED)).toBe(true);
    const pending = (await walk({ status: TaskStatus.PENDING, pageSize: 1000 })).flat();
    expect(pending.length).toBeGreaterThan(0);
    expect(pending.every((task) => task.status === TaskStatus.PENDING)).toBe(true);
    expect(await codeOf(client.listTasks({ status: 42 as TaskStatus }))).toBe(Code.InvalidArgument);
  });

  it('refuses a tampered token, a made-up one, and one replayed with another filter', async () => {
    const first = await client.listTasks({ pageSize: 2 });
    const token = first.nextPageToken;
    expect(token).not.toBe('');
    const bytes = Buffer.from(token, 'base64url');
    for (let at = 0; at < bytes.length; at += 7) {
      const tampered = Buffer.from(bytes);
      tampered[at] = tampered[at]! ^ 0x01;
      expect(await codeOf(client.listTasks({ pageSize: 2, pageToken: tampered.toString('base64url') })), `byte ${at}`).toBe(Code.InvalidArgument);
    }
    expect(await messageOf(client.listTasks({ pageToken: 'not a token' }))).toMatch(/page_token/);
    expect(await messageOf(client.listTasks({ pageToken: `${token}A` }))).toMatch(/page_token/);
    expect(await messageOf(client.listTasks({ pageToken: token, status: TaskStatus.PENDING }))).toMatch(/page_token.*another status filter/);
    // Another page size with the same filter is fine (AIP-158).
    expect((await client.listTasks({ pageToken: token, pageSize: 3 })).tasks).toHaveLength(3);
  });

  it('coerces page_size: 0 means 50, above 1,000 means 1,000; refuses a negative one', async () => {
    await insertTasks(1_200, 'bulk ');
    expect((await client.listTasks({ pageSize: 0 })).tasks).toHaveLength(50);
    expect((await client.listTasks({})).tasks).toHaveLength(50);
    expect((await client.listTasks({ pageSize: 1 })).tasks).toHaveLength(1);
    expect((await client.listTasks({ pageSize: 1_000 })).tasks).toHaveLength(1_000);
    expect((await client.listTasks({ pageSize: 5_000 })).tasks).toHaveLength(1_000);
    expect(await messageOf(client.listTasks({ pageSize: -1 }))).toMatch(/page_size/);
    expect(await codeOf(client.listTasks({ pageSize: -1 }))).toBe(Code.InvalidArgument);
    const total = Number((await harness.database.query<{ n: string }>('select count(*) as n from task'))[0]!.n);
    expect((await walk({ pageSize: 1_000 })).flat()).toHaveLength(total);
  });
});

describe('ListTaskEvents', () => {
  const history = async (taskId: string) =>
    (await client.listTaskEvents({ taskId })).events.map((event) => `${TaskStatus[event.status]}/${event.attempt}${event.error === undefined ? '' : `/${event.error}`}`);

  it('gives the history of a completed task, oldest first', async () => {
    const { task } = await client.createTask({ content: 'history' });
    const claim = await store.claim(task!.id, { reclaim: false });
    await store.completeIfHeld(task!.id, claim!.attempt);
    expect(await history(task!.id)).toEqual(['PENDING/0', 'PROCESSING/1', 'COMPLETED/1']);
    const { events } = await client.listTaskEvents({ taskId: task!.id });
    const final = (await client.getTask({ taskId: task!.id })).task!;
    // Recorded by the transition trigger, within moments of the task's own times.
    const micros = (t: { seconds: bigint; nanos: number }) => Number(t.seconds) * 1e6 + t.nanos / 1e3;
    expect(Math.abs(micros(events.at(-1)!.at!) - micros(final.updatedAt!))).toBeLessThan(1e6);
    expect(Math.abs(micros(events[0]!.at!) - micros(final.createdAt!))).toBeLessThan(1e6);
  });

  it('gives the history of a task canceled while processing', async () => {
    const { task } = await client.createTask({ content: 'canceled' });
    await store.claim(task!.id, { reclaim: false });
    await client.cancelTask({ taskId: task!.id });
    expect(await history(task!.id)).toEqual(['PENDING/0', 'PROCESSING/1', 'CANCELED/1']);
  });

  it('counts a re-claim after a holder died as an event of its own, and keeps an attempt error', async () => {
    const { task } = await client.createTask({ content: 'reclaimed' });
    await store.claim(task!.id, { reclaim: false });
    await store.claim(task!.id, { reclaim: true });
    await harness.database.query(`update task set status = 'pending', error = 'handler said no' where id = $1`, [task!.id]);
    const claim = await store.claim(task!.id, { reclaim: false });
    await store.completeIfHeld(task!.id, claim!.attempt);
    expect(await history(task!.id)).toEqual(['PENDING/0', 'PROCESSING/1', 'PROCESSING/2', 'PENDING/2/handler said no', 'PROCESSING/3', 'COMPLETED/3']);
  });

  it('answers NOT_FOUND for a missing task and INVALID_ARGUMENT for a malformed id', async () => {
    expect(await codeOf(client.listTaskEvents({ taskId: '0193f1f2-7c1e-7a55-9a0e-3f2b1c4d5e6f' }))).toBe(Code.NotFound);
    expect(await codeOf(client.listTaskEvents({ taskId: 'x' }))).toBe(Code.InvalidArgument);
  });
});
