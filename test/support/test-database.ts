import pg from 'pg';
import { migrateUp, openOrm } from '@taskproc/core';
import { uniqueSuffix } from './test-env.js';

export interface TestDatabase {
  url: string;
  /** Runs SQL against the test database (for assertions and fault setup). */
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

/**
 * Creates a fresh, migrated database named after `baseUrl`'s with a random
 * suffix, so every test file works on its own data.
 */
export async function createTestDatabase(baseUrl: string, label: string): Promise<TestDatabase> {
  const base = new URL(baseUrl);
  const name = `${base.pathname.slice(1) || 'taskproc_test'}_${label.replace(/\W/g, '_')}_${uniqueSuffix()}`.toLowerCase();
  await withAdminClient(baseUrl, (client) => client.query(`create database "${name}"`));
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  const orm = await openOrm({ databaseUrl: url.toString(), poolSize: 1 });
  try {
    await migrateUp(orm);
  } finally {
    await orm.close();
  }
  const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
  // Dropping the database terminates whatever connection is still closing;
  // that is expected at the end of a test, not an error of the test.
  pool.on('error', () => {});
  return {
    url: url.toString(),
    async query(sql, params) {
      return (await pool.query(sql, params)).rows;
    },
    async drop() {
      await pool.end();
      await withAdminClient(baseUrl, (client) => client.query(`drop database if exists "${name}" with (force)`));
    },
  };
}

async function withAdminClient<T>(baseUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const admin = new URL(baseUrl);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
