import pg from 'pg';
import { createDatabaseIfMissing, databaseUrlFor, dropDatabase, migrateDatabase } from '@taskproc/core';
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
  const url = databaseUrlFor(baseUrl, name);
  await createDatabaseIfMissing(url);
  await migrateDatabase(url);
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  // Dropping the database terminates whatever connection is still closing;
  // that is expected at the end of a test, not an error of the test.
  pool.on('error', () => {});
  return {
    url,
    async query(sql, params) {
      return (await pool.query(sql, params)).rows;
    },
    async drop() {
      await pool.end();
      await dropDatabase(url);
    },
  };
}
