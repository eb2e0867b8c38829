import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { MikroORM } from '@mikro-orm/postgresql';
import { createDatabaseIfMissing, databaseUrlFor, dropDatabase, openOrm, parseTaskChangeNotice, TASK_CHANGED_CHANNEL } from '@taskproc/core';
import { loadTestEnv, uniqueSuffix } from '../../../test/support/test-env.js';
import { waitFor } from '../../../test/support/wait-for.js';

// The tenants migration on a database that already holds tasks: they join
// the default tenant, the column refuses names no token could carry, the
// listing indexes lead with the tenant, and the change notice names it.

const BEFORE_TENANTS = 'Migration20261201094000_trace_context';

let url: string;
let orm: MikroORM;
let client: pg.Client;
let existing: string[];

beforeAll(async () => {
  const base = loadTestEnv().DATABASE_URL!;
  url = databaseUrlFor(base, `${new URL(base).pathname.slice(1) || 'taskproc_test'}_tenants_migration_${uniqueSuffix()}`.toLowerCase());
  await createDatabaseIfMissing(url);
  orm = await openOrm({ databaseUrl: url, poolSize: 1 });
  await orm.getMigrator().up({ to: BEFORE_TENANTS });
  client = new pg.Client({ connectionString: url });
  await client.connect();
  // Tasks of the schema before tenants: one pending, one canceled.
  const { rows } = await client.query<{ id: string }>(
    `insert into task (id, content) values (gen_random_uuid(), 'before tenants 1'), (gen_random_uuid(), 'before tenants 2') returning id`,
  );
  existing = rows.map((row) => row.id);
  await client.query(`update task set status = 'canceled', updated_at = clock_timestamp() where id = $1`, [existing[1]]);
  await orm.getMigrator().up();
});

afterAll(async () => {
  await client?.end();
  await orm?.close();
  if (url) await dropDatabase(url);
});

describe('the tenants migration', () => {
  it("puts every existing task in the default tenant and keeps it as the column's default", async () => {
    const { rows } = await client.query<{ id: string; tenant: string; status: string }>(`select id, tenant, status from task where id = any($1::uuid[]) order by content`, [existing]);
    expect(rows.map((row) => [row.tenant, row.status])).toEqual([
      ['default', 'pending'],
      ['default', 'canceled'],
    ]);
    const { rows: fresh } = await client.query<{ tenant: string }>(`insert into task (id, content) values (gen_random_uuid(), 'after') returning tenant`);
    expect(fresh[0]!.tenant).toBe('default');
  });

  it('refuses tenant names no token could carry', async () => {
    for (const bad of ['', '-leading-dash', 'has space', 'x'.repeat(129), 'semi;colon', 'new\nline']) {
      await expect(client.query(`insert into task (id, tenant, content) values (gen_random_uuid(), $1, 'bad')`, [bad]), JSON.stringify(bad)).rejects.toMatchObject({
        code: '23514',
        constraint: 'task_tenant_check',
      });
    }
    for (const good of ['a', 'tenant-7', 'org:team@example.com', `A${'b'.repeat(127)}`]) {
      await client.query(`insert into task (id, tenant, content) values (gen_random_uuid(), $1, 'good')`, [good]);
    }
  });

  it('replaces the listing indexes with ones that lead with the tenant', async () => {
    const { rows } = await client.query<{ indexname: string; indexdef: string }>(`select indexname, indexdef from pg_indexes where tablename = 'task' order by indexname`);
    const byName = new Map(rows.map((row) => [row.indexname, row.indexdef]));
    expect(byName.has('task_created_at_id_idx')).toBe(false);
    expect(byName.has('task_status_created_at_id_idx')).toBe(false);
    expect(byName.get('task_tenant_created_at_id_idx')).toMatch(/\(tenant, created_at DESC, id DESC\)/);
    expect(byName.get('task_tenant_status_created_at_id_idx')).toMatch(/\(tenant, status, created_at DESC, id DESC\)/);
  });

  it('names the tenant in every change notice, and keeps the cancel notice the bare id', async () => {
    const listener = new pg.Client({ connectionString: url });
    await listener.connect();
    const notices: { channel: string; payload: string | undefined }[] = [];
    listener.on('notification', (message) => notices.push({ channel: message.channel, payload: message.payload }));
    try {
      await listener.query(`LISTEN ${TASK_CHANGED_CHANNEL}`);
      await listener.query('LISTEN taskproc_task_canceled');
      const { rows } = await client.query<{ id: string }>(`insert into task (id, tenant, content) values (gen_random_uuid(), 'tenant-n', 'noticed') returning id`);
      const id = rows[0]!.id;
      await client.query(`update task set status = 'canceled', updated_at = clock_timestamp() where id = $1`, [id]);
      await waitFor(() => notices.length, (n) => n >= 3, { description: 'two change notices and a cancel notice' });
      const changes = notices.filter((n) => n.channel === TASK_CHANGED_CHANNEL).map((n) => parseTaskChangeNotice(n.payload));
      expect(changes).toMatchObject([
        { id, tenant: 'tenant-n', status: 'pending', attempt: 0 },
        { id, tenant: 'tenant-n', status: 'canceled', attempt: 0 },
      ]);
      expect(notices.filter((n) => n.channel === 'taskproc_task_canceled')).toEqual([{ channel: 'taskproc_task_canceled', payload: id }]);
    } finally {
      await listener.end();
    }
  });
});

describe('parseTaskChangeNotice', () => {
  it('refuses a notice without its tenant', () => {
    const id = '0193f1f2-7c1e-7a55-9a0e-3f2b1c4d5e6f';
    expect(parseTaskChangeNotice(JSON.stringify({ id, status: 'pending', attempt: 0, transition: 1 }))).toBeNull();
    expect(parseTaskChangeNotice(JSON.stringify({ id, tenant: 7, status: 'pending', attempt: 0, transition: 1 }))).toBeNull();
    expect(parseTaskChangeNotice(JSON.stringify({ id, tenant: 't', status: 'pending', attempt: 0, transition: 1 }))).toEqual({ id, tenant: 't', status: 'pending', attempt: 0, transition: 1 });
  });
});
