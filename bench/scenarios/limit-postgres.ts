import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { closedLoop } from '../lib/load.js';

export interface PostgresLimit {
  /** Task lives per second: one create transaction plus two guarded updates each. */
  livesPerSecond: number;
  /** Commits per second (three per life). */
  commitsPerSecond: number;
  count: number;
  connections: number;
}

/**
 * Limit 6a: what PostgreSQL alone does with the bare statements of one task's
 * life, unbatched, from `connections` plain `pg` clients: BEGIN, insert the
 * task, insert its outbox row, COMMIT; then pending -> processing and
 * processing -> completed, each guarded and auto-committed. The schema is the
 * migrated one, so the transition trigger runs as it does for the services.
 */
export async function measurePostgresLimit(databaseUrl: string, connections: number, count: number, warmup: number): Promise<PostgresLimit> {
  const clients = await Promise.all(
    Array.from({ length: connections }, async () => {
      const client = new pg.Client({ connectionString: databaseUrl, application_name: 'taskproc-bench-limit' });
      await client.connect();
      return client;
    }),
  );
  const life = async (i: number, caller: number) => {
    const client = clients[caller]!;
    const id = randomUUID();
    await client.query('begin');
    await client.query(`insert into task (id, content, status, attempt) values ($1, $2, 'pending', 0)`, [id, `limit ${i}`]);
    await client.query('insert into outbox (task_id) values ($1)', [id]);
    await client.query('commit');
    const claimed = await client.query<{ attempt: number }>(
      `update task set status = 'processing', attempt = attempt + 1, updated_at = clock_timestamp() where id = $1 and status = 'pending' returning attempt`,
      [id],
    );
    await client.query(`update task set status = 'completed', updated_at = clock_timestamp() where id = $1 and status = 'processing' and attempt = $2`, [
      id,
      claimed.rows[0]!.attempt,
    ]);
  };
  try {
    await closedLoop(warmup, connections, life);
    const result = await closedLoop(count, connections, life);
    if (result.errors > 0) throw new Error(`postgres limit: ${result.errors} errors, first: ${result.firstError}`);
    const livesPerSecond = (count * 1000) / result.elapsedMs;
    return { livesPerSecond, commitsPerSecond: livesPerSecond * 3, count, connections };
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
}
