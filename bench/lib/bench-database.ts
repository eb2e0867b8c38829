import pg from 'pg';
import { createDatabaseIfMissing, databaseUrlFor, dropDatabase, migrateDatabase } from '@taskproc/core';

/** A database of the bench's own on the shared server, migrated like production, dropped at the end. */
export interface BenchDatabase {
  url: string;
  pool: pg.Pool;
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

export async function createBenchDatabase(baseUrl: string, name: string, options: { migrate?: boolean } = {}): Promise<BenchDatabase> {
  const url = databaseUrlFor(baseUrl, name);
  await createDatabaseIfMissing(url);
  // A peer's database (pg-boss) gets no taskproc schema: the peer installs its own.
  if (options.migrate !== false) await migrateDatabase(url);
  return attach(url, () => dropDatabase(url));
}

/** An existing database (BENCH_TARGET runs): observed, never dropped. */
export function attachDatabase(url: string): BenchDatabase {
  return attach(url, async () => {});
}

function attach(url: string, removeDatabase: () => Promise<unknown>): BenchDatabase {
  const pool = new pg.Pool({ connectionString: url, max: 2, application_name: 'taskproc-bench-observer' });
  // An idle connection that the server ends (the drop at the end, a restart)
  // must not crash the bench; the next query reports the problem.
  pool.on('error', (error) => process.stderr.write(`[bench] observer connection lost: ${error.message}\n`));
  return {
    url,
    pool,
    async query(sql, params) {
      return (await pool.query(sql, params)).rows;
    },
    async drop() {
      await pool.end();
      await removeDatabase();
    },
  };
}
