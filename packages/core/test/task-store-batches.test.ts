import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Coalescer, DEFAULT_TENANT, TaskStore, openOrm } from '@taskproc/core';
import { createTestDatabase, type TestDatabase } from '../../../test/support/test-database.js';
import { loadTestEnv } from '../../../test/support/test-env.js';

// The batched forms of the store's steps keep the guarantees of the single
// ones: creates commit with their outbox entries, claims and completions stay
// guarded, and one bad item does not fail the callers batched with it.

let db: TestDatabase;
let orm: MikroORM;
let store: TaskStore;

beforeAll(async () => {
  db = await createTestDatabase(loadTestEnv().DATABASE_URL!, 'store_batches');
  orm = await openOrm({ databaseUrl: db.url, poolSize: 4 });
  store = new TaskStore(orm);
});

afterAll(async () => {
  await orm?.close();
  await db?.drop();
});

describe('TaskStore batches', () => {
  it('creates many tasks, each with its outbox entry, in the callers order', async () => {
    const tasks = await store.createManyWithOutboxEntries(['a', 'b', 'c 😀']);
    expect(tasks.map((t) => t.content)).toEqual(['a', 'b', 'c 😀']);
    expect(tasks.every((t) => t.status === 'pending' && t.attempt === 0 && t.updatedAt === null)).toBe(true);
    expect(tasks[0]!.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const outbox = await db.query<{ task_id: string }>('select task_id from outbox where task_id = any($1::uuid[])', [tasks.map((t) => t.id)]);
    expect(outbox.map((r) => r.task_id).sort()).toEqual(tasks.map((t) => t.id).sort());
  });

  it('claims only pending tasks, once per id, and completes only the holding attempt', async () => {
    const [a, b, c] = await store.createManyWithOutboxEntries(['x', 'y', 'z']);
    await store.cancelIfNotFinal(DEFAULT_TENANT, c!.id);
    const claims = await store.claimMany([a!.id, b!.id, a!.id, c!.id], { reclaim: false });
    expect(claims.map((x) => x?.attempt ?? null)).toEqual([1, 1, null, null]);
    expect(claims[0]!.task.status).toBe('processing');

    // A redelivery takes b over: the first holder's attempt no longer completes it.
    const [taken] = await store.claimMany([b!.id, c!.id], { reclaim: true });
    expect(taken?.attempt).toBe(2);
    const done = await store.completeManyIfHeld([
      { id: a!.id, attempt: 1 },
      { id: b!.id, attempt: 1 },
      { id: c!.id, attempt: 0 },
    ]);
    expect(done).toEqual([true, false, false]);
    const rows = await db.query<{ id: string; status: string }>('select id, status from task where id = any($1::uuid[])', [[a!.id, b!.id, c!.id]]);
    expect(Object.fromEntries(rows.map((r) => [r.id, r.status]))).toEqual({ [a!.id]: 'completed', [b!.id]: 'processing', [c!.id]: 'canceled' });
  });

  it('answers each caller of a failed batch alone, so one bad item fails only its caller', async () => {
    const coalescer = new Coalescer((contents: string[]) => store.createManyWithOutboxEntries(contents), { maxBatch: 10, maxInFlight: 1 });
    const results = await Promise.allSettled(['fine 1', 'nul \u0000 byte', 'fine 2', 'fine 3'].map((c) => coalescer.submit(c)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const [count] = await db.query<{ n: number }>(`select count(*)::int as n from task where content like 'fine %'`);
    expect(count!.n).toBe(3);
  });
});

describe('Coalescer', () => {
  it('sends a lone call at once and batches the calls that arrive while a batch runs', async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const coalescer = new Coalescer(
      async (items: number[]) => {
        batches.push(items);
        if (batches.length === 1) await gate;
        return items.map((i) => i * 10);
      },
      { maxBatch: 3, maxInFlight: 1 },
    );
    const answers = [1, 2, 3, 4, 5].map((i) => coalescer.submit(i));
    release();
    expect(await Promise.all(answers)).toEqual([10, 20, 30, 40, 50]);
    expect(batches).toEqual([[1], [2, 3, 4], [5]]);
  });

  it('rejects every caller at once when the error concerns them all', async () => {
    let calls = 0;
    const coalescer = new Coalescer(
      async (): Promise<number[]> => {
        calls++;
        throw new Error('down');
      },
      { maxBatch: 10, maxInFlight: 1, failsEveryone: () => true },
    );
    const first = coalescer.submit(1);
    const rest = [2, 3].map((i) => coalescer.submit(i));
    await expect(first).rejects.toThrow('down');
    await Promise.all(rest.map((r) => expect(r).rejects.toThrow('down')));
    expect(calls).toBe(2);
  });
});
