import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { MikroORM } from '@mikro-orm/postgresql';
import {
  FailedPreconditionError,
  NotFoundError,
  TaskChangeReader,
  TaskFailureStore,
  TaskListing,
  TaskStore,
  openOrm,
  type CreateOutcome,
  type Task,
} from '@taskproc/core';
import { createTestDatabase, type TestDatabase } from '../../../test/support/test-database.js';
import { loadTestEnv } from '../../../test/support/test-env.js';

// The stores against a real PostgreSQL with two tenants: each sees its own
// tasks only, and another tenant's task gets the answer a missing one gets.

const A = 'tenant-a';
const B = 'tenant-b';

let db: TestDatabase;
let orm: MikroORM;
let store: TaskStore;
let failures: TaskFailureStore;
let listing: TaskListing;
let changes: TaskChangeReader;

beforeAll(async () => {
  db = await createTestDatabase(loadTestEnv().DATABASE_URL!, 'tenant_scoping');
  orm = await openOrm({ databaseUrl: db.url, poolSize: 4 });
  store = new TaskStore(orm);
  failures = new TaskFailureStore(orm);
  listing = new TaskListing(orm);
  changes = new TaskChangeReader(orm);
});

afterAll(async () => {
  await orm?.close();
  await db?.drop();
});

function created(outcome: CreateOutcome | undefined): Task {
  if (outcome?.kind !== 'created') throw new Error(`expected a created task, got ${JSON.stringify(outcome)}`);
  return outcome.task;
}

async function createFor(tenant: string, content: string): Promise<Task> {
  return created((await store.createTasks([{ tenant, content }]))[0]);
}

/** The error a call threw (its class and message), or 'ok'. */
async function failureOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return 'ok';
  } catch (error) {
    return `${(error as Error).constructor.name}: ${(error as Error).message}`;
  }
}

describe('creates', () => {
  it('records the tenant of each item, several tenants in one statement', async () => {
    const [a, b] = await store.createTasks([
      { tenant: A, content: 'mixed batch' },
      { tenant: B, content: 'mixed batch' },
    ]);
    expect([created(a).tenant, created(b).tenant]).toEqual([A, B]);
    const rows = await db.query<{ id: string; tenant: string }>(`select id, tenant from task where content = 'mixed batch' order by tenant`);
    expect(rows).toEqual([
      { id: created(a).id, tenant: A },
      { id: created(b).id, tenant: B },
    ]);
  });

  it('keeps request_ids apart per tenant, within one statement and across statements', async () => {
    const [a, b, aAgain] = await store.createTasks([
      { tenant: A, content: 'keyed', requestId: 'shared-key' },
      { tenant: B, content: 'keyed', requestId: 'shared-key' },
      { tenant: A, content: 'keyed', requestId: 'shared-key' },
    ]);
    expect(created(a).id).not.toBe(created(b).id);
    expect(aAgain).toEqual({ kind: 'repeated', task: created(a) });

    // Other content under the same key: a conflict in A only; a first use in a third tenant.
    const [conflict, third, bAgain] = await store.createTasks([
      { tenant: A, content: 'other', requestId: 'shared-key' },
      { tenant: 'tenant-c', content: 'other', requestId: 'shared-key' },
      { tenant: B, content: 'keyed', requestId: 'shared-key' },
    ]);
    expect(conflict).toEqual({ kind: 'conflict', requestId: 'shared-key' });
    expect(created(third).tenant).toBe('tenant-c');
    expect(bAgain!.kind).toBe('repeated');
    expect((bAgain as { task: Task }).task).toMatchObject({ id: created(b).id, tenant: B });
    const keys = await db.query<{ tenant: string }>(`select tenant from idempotency_key where request_id = 'shared-key' order by tenant`);
    expect(keys.map((k) => k.tenant)).toEqual([A, B, 'tenant-c']);
  });
});

describe("another tenant's task is a missing one", () => {
  it('for get, find and cancel, with the same message as a random id', async () => {
    const task = await createFor(A, 'only for A');
    const random = '0193f1f2-7c1e-7a55-9a0e-3f2b1c4d5e6f';
    expect(await store.find(B, task.id)).toBeNull();
    expect(await failureOf(store.get(B, task.id))).toBe(`NotFoundError: task ${task.id} not found`);
    expect(await failureOf(store.get(B, random))).toBe(`NotFoundError: task ${random} not found`);
    expect(await failureOf(store.cancelIfNotFinal(B, task.id))).toBe(`NotFoundError: task ${task.id} not found`);
    expect(await store.get(A, task.id)).toEqual(task); // untouched by B's cancel

    await store.cancelIfNotFinal(A, task.id);
    // Final: A learns it cannot cancel again, B still learns nothing.
    await expect(store.cancelIfNotFinal(A, task.id)).rejects.toThrow(FailedPreconditionError);
    expect(await failureOf(store.cancelIfNotFinal(B, task.id))).toBe(`NotFoundError: task ${task.id} not found`);
    expect(await store.findInAnyTenant(task.id)).toMatchObject({ tenant: A, status: 'canceled' });
  });

  it('for a retry, failed or not', async () => {
    const task = await createFor(A, 'fails');
    expect(await failureOf(failures.retryIfFailed(B, task.id))).toBe(`NotFoundError: task ${task.id} not found`);
    const claim = await store.claim(task.id, { reclaim: false });
    expect(await failures.failIfHeld(task.id, claim!.attempt, 'boom', { failedAttempt: true })).toBe(true);
    expect(await failureOf(failures.retryIfFailed(B, task.id))).toBe(`NotFoundError: task ${task.id} not found`);
    expect(await store.get(A, task.id)).toMatchObject({ status: 'failed' });
    expect(await failures.retryIfFailed(A, task.id)).toMatchObject({ id: task.id, tenant: A, status: 'pending' });
  });

  it('for its history', async () => {
    const task = await createFor(A, 'with a history');
    await expect(listing.events(B, task.id)).rejects.toThrow(new NotFoundError(`task ${task.id} not found`));
    expect(await listing.events(A, task.id)).toMatchObject([{ status: 'pending', attempt: 0 }]);
  });

  it('for the first read of a watch', async () => {
    const a = await createFor(A, 'watched');
    const b = await createFor(B, 'watched');
    const found = await changes.currentMany([
      { tenant: B, id: a.id },
      { tenant: B, id: b.id },
    ]);
    expect([...found.keys()]).toEqual([b.id]);
    expect((await changes.currentMany([{ tenant: A, id: a.id }])).get(a.id)?.task).toEqual(a);
  });
});

describe('listing', () => {
  it("pages through one tenant's tasks only, whatever the filter", async () => {
    const mine = [];
    for (let i = 0; i < 5; i += 1) {
      mine.push(await createFor('lister', `listed ${i}`));
      await createFor('other-lister', `not listed ${i}`);
    }
    await store.cancelIfNotFinal('lister', mine[0]!.id);
    const seen: string[] = [];
    let after = null;
    do {
      const page: Awaited<ReturnType<TaskListing['page']>> = await listing.page({ tenant: 'lister', status: null, after, limit: 2 });
      seen.push(...page.tasks.map((t) => t.id));
      expect(page.tasks.every((t) => t.tenant === 'lister')).toBe(true);
      after = page.next;
    } while (after);
    expect(seen).toEqual(mine.map((t) => t.id).reverse());
    const canceled = await listing.page({ tenant: 'lister', status: 'canceled', after: null, limit: 10 });
    expect(canceled.tasks.map((t) => t.id)).toEqual([mine[0]!.id]);
    expect((await listing.page({ tenant: 'nobody', status: null, after: null, limit: 10 })).tasks).toEqual([]);
  });

  it("can serve a tenant's page from an index that leads with the tenant, in the listing's order", async () => {
    // A table this small would be read whole: without that choice the
    // planner shows which index fits the statement.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query('set enable_seqscan = off');
      const plan = async (sql: string) => (await client.query<{ 'QUERY PLAN': string }>(`explain ${sql}`)).rows.map((row) => row['QUERY PLAN']).join('\n');
      const filtered = await plan(`select * from task where tenant = 'lister' and status = 'pending' order by created_at desc, id desc limit 51`);
      expect(filtered).toMatch(/Index Scan using task_tenant_status_created_at_id_idx/);
      expect(filtered).not.toMatch(/Sort/);
      const all = await plan(
        `select * from task where tenant = 'lister' and (created_at, id) < ('2030-01-01'::timestamptz, '0193f1f2-7c1e-7a55-9a0e-3f2b1c4d5e6f'::uuid) order by created_at desc, id desc limit 51`,
      );
      expect(all).toMatch(/Index Scan using task_tenant_created_at_id_idx/);
      expect(all).not.toMatch(/Sort/);
    } finally {
      await client.end();
    }
  });
});

describe('catch-up reads of watching', () => {
  it('read the changes of the tenants and tasks asked for only', async () => {
    const start = await changes.transitionIdOlderThan(0);
    const a = await createFor('catch-a', 'caught');
    const b = await createFor('catch-b', 'caught');
    const c = await createFor('catch-c', 'caught');
    const read = await changes.after(start, 100, { tenants: ['catch-a'], taskIds: [c.id] });
    expect(read.map((change) => change.task.id)).toEqual([a.id, c.id]);
    expect(read.map((change) => change.task.tenant)).toEqual(['catch-a', 'catch-c']);
    expect((await changes.after(start, 100, { tenants: [], taskIds: [] })).length).toBe(0);
    expect(b.tenant).toBe('catch-b');
  });
});
