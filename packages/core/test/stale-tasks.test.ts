import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MikroORM } from '@mikro-orm/postgresql';
import { DEFAULT_TENANT, TaskStore, openOrm } from '@taskproc/core';
import { createTestDatabase, type TestDatabase } from '../../../test/support/test-database.js';
import { loadTestEnv } from '../../../test/support/test-env.js';

// Recovery of tasks whose message the system lost: a task unchanged for
// longer than the stale period is queued again (once per period) and may be
// taken over by a processor even from a message that is not a redelivery.
// Time is moved by ageing rows, not by waiting.

let db: TestDatabase;
let orm: MikroORM;
let store: TaskStore;

beforeAll(async () => {
  db = await createTestDatabase(loadTestEnv().DATABASE_URL!, 'stale_tasks');
  orm = await openOrm({ databaseUrl: db.url, poolSize: 4 });
  store = new TaskStore(orm, { staleAfterMs: 60_000 });
});

beforeEach(async () => {
  await db.query('delete from outbox');
});

afterAll(async () => {
  await orm?.close();
  await db?.drop();
});

/** Moves a task's timestamps an hour into the past (the trigger ignores changes that are not transitions). */
async function age(id: string): Promise<void> {
  await db.query(
    `update task set created_at = created_at - interval '1 hour', queued_at = queued_at - interval '1 hour',
                     updated_at = updated_at - interval '1 hour' where id = $1`,
    [id],
  );
}

async function outboxIds(): Promise<string[]> {
  return (await db.query<{ task_id: string }>('select task_id from outbox order by id')).map((r) => r.task_id);
}

describe('requeueStale', () => {
  it('queues stale pending and processing tasks again, and nothing else', async () => {
    const stalePending = await store.createWithOutboxEntry('stale pending');
    const staleProcessing = await store.createWithOutboxEntry('stale processing');
    await store.claim(staleProcessing.id, { reclaim: false });
    await store.createWithOutboxEntry('fresh'); // recent: left alone
    const completed = await store.createWithOutboxEntry('completed');
    const claim = await store.claim(completed.id, { reclaim: false });
    await store.completeIfHeld(completed.id, claim!.attempt);
    const canceled = await store.createWithOutboxEntry('canceled');
    await store.cancelIfNotFinal(DEFAULT_TENANT, canceled.id);
    for (const task of [stalePending, staleProcessing, completed, canceled]) await age(task.id);
    await db.query('delete from outbox');

    const requeued = await store.requeueStale();
    expect(requeued.sort()).toEqual([stalePending.id, staleProcessing.id].sort());
    expect((await outboxIds()).sort()).toEqual([stalePending.id, staleProcessing.id].sort());
  });

  it('queues a task again at most once per stale period', async () => {
    const task = await store.createWithOutboxEntry('lost once');
    await age(task.id);
    expect(await store.requeueStale()).toEqual([task.id]);
    expect(await store.requeueStale()).toEqual([]);
  });

  it('does not change the task as clients see it', async () => {
    const task = await store.createWithOutboxEntry('unchanged');
    await age(task.id);
    const before = await store.get(DEFAULT_TENANT, task.id);
    await store.requeueStale();
    expect(await store.get(DEFAULT_TENANT, task.id)).toEqual(before);
    const [transitions] = await db.query<{ n: string }>('select count(*) as n from task_transition where task_id = $1', [task.id]);
    expect(Number(transitions!.n)).toBe(1); // only the creation
  });
});

describe('claiming a stale task', () => {
  it('takes over a processing task unchanged for longer than the stale period, fencing off its old holder', async () => {
    const task = await store.createWithOutboxEntry('holder died');
    const first = await store.claim(task.id, { reclaim: false });
    expect(await store.claim(task.id, { reclaim: false })).toBeNull(); // a live holder keeps it
    await age(task.id);
    const second = await store.claim(task.id, { reclaim: false });
    expect(second?.attempt).toBe(first!.attempt + 1);
    expect(await store.completeIfHeld(task.id, first!.attempt)).toBe(false);
    expect(await store.completeIfHeld(task.id, second!.attempt)).toBe(true);
  });

  it('never takes over a final task, however old', async () => {
    const task = await store.createWithOutboxEntry('canceled long ago');
    await store.cancelIfNotFinal(DEFAULT_TENANT, task.id);
    await age(task.id);
    expect(await store.claim(task.id, { reclaim: true })).toBeNull();
  });
});
