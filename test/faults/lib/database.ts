import pg from 'pg';
import { createDatabaseIfMissing, databaseUrlFor, dropDatabase, migrateDatabase } from '@taskproc/core';

/**
 * The scenario's own database on the suite's cluster: created and migrated
 * before the services start, read by the checker afterwards.
 */
export class ScenarioDatabase {
  private constructor(
    readonly url: string,
    private readonly pool: pg.Pool,
  ) {}

  static async create(adminUrl: string, name: string): Promise<ScenarioDatabase> {
    const url = databaseUrlFor(adminUrl, name);
    await dropDatabase(url);
    await createDatabaseIfMissing(url);
    await migrateDatabase(url);
    const pool = new pg.Pool({ connectionString: url, max: 3, connectionTimeoutMillis: 3_000 });
    // Scenario 5 restarts PostgreSQL under this pool: an idle client's error
    // must not crash the suite (pg.Pool rethrows it without a listener).
    pool.on('error', () => undefined);
    return new ScenarioDatabase(url, pool);
  }

  async query<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<T[]> {
    return (await this.pool.query<T>(sql, params)).rows;
  }

  /** Tasks not yet final, or null while the database does not answer. */
  async unfinishedCount(): Promise<number | null> {
    try {
      const [row] = await this.query<{ n: string }>(`select count(*) as n from task where status in ('pending', 'processing')`);
      return Number(row!.n);
    } catch {
      return null;
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
