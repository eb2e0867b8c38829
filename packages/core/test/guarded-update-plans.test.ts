import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MikroORM } from '@mikro-orm/postgresql';
import { CANCELABLE_STATUSES, DEFAULT_TENANT, TaskStore, openOrm } from '@taskproc/core';
import { CANCEL_SQL, CLAIM_MANY_SQL, COMPLETE_MANY_SQL, FAIL_SQL, RETRY_LATER_SQL } from '../src/db/guarded-updates.js';
import { executeRaw } from '../src/db/raw-statement.js';
import { createTestDatabase, type TestDatabase } from '../../../test/support/test-database.js';
import { loadTestEnv } from '../../../test/support/test-env.js';

// The guarded updates of unfinished tasks (the processors' batched claim and
// completion, the end of a failed attempt, a cancel) find their tasks by
// primary key, however many tasks are unfinished and whatever the
// statistics say.
// The trap: statistics taken while nothing was unfinished, then a backlog
// (a batch create adds thousands of pending tasks before the next ANALYZE).
// A plan that reads the sweeper's partial index of unfinished tasks then
// scans the whole backlog for every statement.

const BACKLOG = 3_000;

let db: TestDatabase;
let orm: MikroORM;
let store: TaskStore;
let backlog: string[];

beforeAll(async () => {
  db = await createTestDatabase(loadTestEnv().DATABASE_URL!, 'guarded_plans');
  orm = await openOrm({ databaseUrl: db.url, poolSize: 2 });
  store = new TaskStore(orm);
  // Statistics that say every task is finished...
  const done = await store.createManyWithOutboxEntries(Array.from({ length: 500 }, (_, i) => `done ${i}`));
  const claims = await store.claimMany(done.map((t) => t.id), { reclaim: false });
  await store.completeManyIfHeld(claims.map((c) => ({ id: c!.task.id, attempt: c!.attempt })));
  await db.query('analyze task');
  // ...and then a backlog they know nothing of.
  backlog = [];
  for (let i = 0; i < BACKLOG; i += 1_000) {
    const tasks = await store.createManyWithOutboxEntries(Array.from({ length: 1_000 }, (_, j) => `backlog ${i + j}`));
    backlog.push(...tasks.map((t) => t.id));
  }
}, 60_000);

afterAll(async () => {
  await orm?.close();
  await db?.drop();
});

/** The plan of a statement as executed (EXPLAIN ANALYZE runs it: the caller wants its effect too). */
async function plan(sql: string, params: unknown[]): Promise<string> {
  const rows = await executeRaw(orm, `explain (analyze, format json) ${sql}`, params);
  return JSON.stringify(rows[0]!['QUERY PLAN']);
}

describe('guarded updates under a backlog the statistics do not know', () => {
  it('claims by primary key only, reading no entry of the unfinished-task index', async () => {
    const ids = backlog.slice(0, 3);
    const claim = await plan(CLAIM_MANY_SQL, [`{${ids.join(',')}}`, false, '300000 milliseconds']);
    expect(claim).toContain('task_pkey');
    expect(claim).not.toContain('task_unfinished_queued_at_idx');
    expect(claim).toContain('"Actual Rows":3');
  });

  it('completes by primary key only', async () => {
    const [first, second] = await store.claimMany(backlog.slice(3, 5), { reclaim: false });
    const held = [first!, second!].map((c) => ({ id: c.task.id, attempt: c.attempt }));
    const complete = await plan(COMPLETE_MANY_SQL, [JSON.stringify(held), `{${held.map((h) => h.id).join(',')}}`]);
    expect(complete).toContain('task_pkey');
    expect(complete).not.toContain('task_unfinished_queued_at_idx');
    const rows = await db.query<{ status: string }>('select status from task where id = any($1::uuid[])', [held.map((h) => h.id)]);
    expect(rows.map((r) => r.status)).toEqual(['completed', 'completed']);
  });

  it('ends a failed attempt and cancels by primary key only', async () => {
    const [retried, failed] = await store.claimMany(backlog.slice(5, 7), { reclaim: false });
    const cases: [string, string, unknown[], string][] = [
      ['retry later', RETRY_LATER_SQL, ['boom', 1_000, retried!.task.id, retried!.attempt], 'pending'],
      ['fail', FAIL_SQL, ['boom', 1, failed!.task.id, failed!.attempt], 'failed'],
      ['cancel', CANCEL_SQL, [backlog[7], DEFAULT_TENANT, `{${CANCELABLE_STATUSES.join(',')}}`], 'canceled'],
    ];
    for (const [name, sql, params, status] of cases) {
      const used = await plan(sql, params);
      expect(used, name).toContain('task_pkey');
      expect(used, name).not.toContain('task_unfinished_queued_at_idx');
      const [row] = await db.query<{ status: string }>('select status from task where id = $1', [params[name === 'cancel' ? 0 : 2]]);
      expect(row?.status, name).toBe(status);
    }
  });
});
