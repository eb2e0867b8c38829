import pg from 'pg';
import { migrateUp, openOrm } from '@taskproc/core';

/** A database of the bench's own on the shared server, migrated like production, dropped at the end. */
export interface BenchDatabase {
  url: string;
  pool: pg.Pool;
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

export async function createBenchDatabase(baseUrl: string, name: string): Promise<BenchDatabase> {
  await withAdmin(baseUrl, (c) => c.query(`create database "${name}"`));
  const url = withDatabase(baseUrl, name);
  const orm = await openOrm({ databaseUrl: url, poolSize: 1 });
  try {
    await migrateUp(orm);
  } finally {
    await orm.close();
  }
  return attach(url, async () => withAdmin(baseUrl, (c) => c.query(`drop database if exists "${name}" with (force)`)));
}

/** An existing database (BENCH_TARGET runs): observed, never dropped. */
export function attachDatabase(url: string): BenchDatabase {
  return attach(url, async () => {});
}

function attach(url: string, dropDatabase: () => Promise<unknown>): BenchDatabase {
  const pool = new pg.Pool({ connectionString: url, max: 2, application_name: 'taskproc-bench-observer' });
  return {
    url,
    pool,
    async query(sql, params) {
      return (await pool.query(sql, params)).rows;
    },
    async drop() {
      await pool.end();
      await dropDatabase();
    },
  };
}

export function withDatabase(baseUrl: string, name: string): string {
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withAdmin<T>(baseUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: withDatabase(baseUrl, 'postgres') });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
