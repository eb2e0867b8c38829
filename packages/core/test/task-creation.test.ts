import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MikroORM } from '@mikro-orm/postgresql';
import { AlreadyExistsError, DEFAULT_TENANT, TaskStore, openOrm } from '@taskproc/core';
import { createTestDatabase, type TestDatabase } from '../../../test/support/test-database.js';
import { loadTestEnv } from '../../../test/support/test-env.js';
import { waitFor } from '../../../test/support/wait-for.js';

// Creates with request_id and schedule_time against a real PostgreSQL: the
// database decides which create owns a key, within one statement (two items
// of one group-commit batch) and across concurrent statements.

let db: TestDatabase;
let orm: MikroORM;
let store: TaskStore;

const KEY_LIFETIME_MS = 1_500;

beforeAll(async () => {
  db = await createTestDatabase(loadTestEnv().DATABASE_URL!, 'task_creation');
  orm = await openOrm({ databaseUrl: db.url, poolSize: 8 });
  store = new TaskStore(orm, { idempotencyKeyLifetimeMs: KEY_LIFETIME_MS });
});

afterAll(async () => {
  await orm?.close();
  await db?.drop();
});

async function countTasks(content: string): Promise<number> {
  const [row] = await db.query<{ n: string }>('select count(*) as n from task where content = $1', [content]);
  return Number(row!.n);
}

describe('idempotency keys', () => {
  it('gives 50 concurrent statements with one key one task', async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, () => store.createTasks([{ tenant: DEFAULT_TENANT, content: 'concurrent', requestId: 'key-concurrent' }])),
    );
    const ids = new Set(outcomes.map(([o]) => (o!.kind === 'conflict' ? 'conflict' : o!.task.id)));
    expect(ids.size).toBe(1);
    expect(outcomes.filter(([o]) => o!.kind === 'created')).toHaveLength(1);
    expect(await countTasks('concurrent')).toBe(1);
    const [outbox] = await db.query<{ n: string }>(
      'select count(*) as n from outbox o join task t on t.id = o.task_id where t.content = $1',
      ['concurrent'],
    );
    expect(Number(outbox!.n)).toBe(1);
  });

  it('answers two items of one statement with the same key with one task, and other content with a conflict', async () => {
    const [first, repeat, other, keyless] = await store.createTasks([
      { tenant: DEFAULT_TENANT, content: 'same batch', requestId: 'key-batch' },
      { tenant: DEFAULT_TENANT, content: 'same batch', requestId: 'key-batch' },
      { tenant: DEFAULT_TENANT, content: 'other content', requestId: 'key-batch' },
      { tenant: DEFAULT_TENANT, content: 'same batch' },
    ]);
    expect(first!.kind).toBe('created');
    expect(repeat).toEqual({ kind: 'repeated', task: (first as { task: unknown }).task });
    expect(other).toEqual({ kind: 'conflict', requestId: 'key-batch' });
    expect(keyless!.kind).toBe('created');
    expect(await countTasks('same batch')).toBe(2);
    expect(await countTasks('other content')).toBe(0);
  });

  it('returns the first task with its status now', async () => {
    const [created] = await store.createTasks([{ tenant: DEFAULT_TENANT, content: 'then canceled', requestId: 'key-status' }]);
    const task = (created as { task: { id: string } }).task;
    await store.cancelIfNotFinal(DEFAULT_TENANT, task.id);
    const [repeat] = await store.createTasks([{ tenant: DEFAULT_TENANT, content: 'then canceled', requestId: 'key-status' }]);
    expect(repeat!.kind).toBe('repeated');
    expect((repeat as { task: { id: string; status: string } }).task).toMatchObject({ id: task.id, status: 'canceled' });
  });

  it('takes the schedule time as part of the content', async () => {
    await store.createTasks([{ tenant: DEFAULT_TENANT, content: 'when', requestId: 'key-when', scheduleTime: '2030-01-01T00:00:00.000000Z' }]);
    const [other] = await store.createTasks([{ tenant: DEFAULT_TENANT, content: 'when', requestId: 'key-when' }]);
    expect(other!.kind).toBe('conflict');
  });

  it('frees a key after its lifetime, and the cleanup deletes expired keys', async () => {
    const [first] = await store.createTasks([{ tenant: DEFAULT_TENANT, content: 'before expiry', requestId: 'key-expiry' }]);
    expect(first!.kind).toBe('created');
    const reused = await waitFor(
      async () => (await store.createTasks([{ tenant: DEFAULT_TENANT, content: 'after expiry', requestId: 'key-expiry' }]))[0]!,
      (outcome) => outcome.kind === 'created',
      { timeoutMs: 20_000, intervalMs: 200, description: 'the expired key to be taken over' },
    );
    expect((reused as { task: { id: string } }).task.id).not.toBe((first as { task: { id: string } }).task.id);

    await store.createTasks([{ tenant: DEFAULT_TENANT, content: 'to clean', requestId: 'key-clean-1' }, { tenant: DEFAULT_TENANT, content: 'to clean', requestId: 'key-clean-2' }]);
    await waitFor(
      async () => (await db.query<{ n: string }>(`select count(*) as n from idempotency_key where expires_at > clock_timestamp()`))[0]!.n,
      (n) => n === '0',
      { timeoutMs: 20_000, intervalMs: 200, description: 'every key expired' },
    );
    // Bounded rounds of one key each until none is left.
    const rounds: number[] = [];
    for (let deleted = -1; deleted !== 0 && rounds.length < 100; ) rounds.push((deleted = await store.deleteExpiredIdempotencyKeys(1)));
    expect(rounds.slice(0, -1).every((n) => n === 1)).toBe(true);
    expect(rounds.length).toBeGreaterThan(2);
    const [left] = await db.query<{ n: string }>(`select count(*) as n from idempotency_key where request_id like 'key-clean-%'`);
    expect(left!.n).toBe('0');
  });
});

describe('createTasksAtomically', () => {
  it('creates all items in order, or none when one key is taken by other content', async () => {
    await store.createTasks([{ tenant: DEFAULT_TENANT, content: 'taken', requestId: 'key-atomic' }]);
    await expect(
      store.createTasksAtomically([{ tenant: DEFAULT_TENANT, content: 'atomic 0' }, { tenant: DEFAULT_TENANT, content: 'atomic 1', requestId: 'key-atomic' }]),
    ).rejects.toThrow(AlreadyExistsError);
    expect(await countTasks('atomic 0')).toBe(0);

    const tasks = await store.createTasksAtomically(Array.from({ length: 5 }, (_, i) => ({ tenant: DEFAULT_TENANT, content: `ordered ${i}` })));
    expect(tasks.map((t) => t.content)).toEqual(['ordered 0', 'ordered 1', 'ordered 2', 'ordered 3', 'ordered 4']);
  });
});

describe('schedule time', () => {
  it('stores the task pending with its schedule time, and its outbox entry not before it', async () => {
    const at = '2031-06-01T12:00:00.123456Z';
    const [outcome] = await store.createTasks([{ tenant: DEFAULT_TENANT, content: 'scheduled', scheduleTime: at }]);
    const task = (outcome as { task: { id: string; status: string; scheduleTime: string } }).task;
    expect(task.status).toBe('pending');
    expect(task.scheduleTime).toBe(at);
    const [entry] = await db.query<{ due: boolean }>(`select not_before = $2::timestamptz as due from outbox where task_id = $1`, [task.id, at]);
    expect(entry!.due).toBe(true);
  });

  it('makes a past schedule time due now', async () => {
    const [outcome] = await store.createTasks([{ tenant: DEFAULT_TENANT, content: 'past', scheduleTime: '2001-01-01T00:00:00.000000Z' }]);
    const task = (outcome as { task: { id: string } }).task;
    const [entry] = await db.query<{ due: boolean }>(
      `select not_before > now() - interval '1 minute' as due from outbox where task_id = $1`,
      [task.id],
    );
    expect(entry!.due).toBe(true);
  });
});
