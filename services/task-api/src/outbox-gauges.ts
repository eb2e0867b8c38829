import type { MikroORM } from '@mikro-orm/postgresql';
import { Gauge, type Registry } from 'prom-client';

// The backlog is counted up to this many entries: a scrape must stay cheap
// when the outbox is huge (say, the broker was down for an hour).
const BACKLOG_COUNT_LIMIT = 100_000;
const BACKLOG_QUERY_TIMEOUT_MS = 2_000;

/**
 * The outbox's backlog and its oldest entry's age, read on each scrape with
 * two bounded statements (a capped count, the first row by primary key).
 * Every task-api replica reports the same table: take max(), not sum().
 * When the database does not answer in time the gauges keep their last values.
 */
export function outboxGauges(registry: Registry, orm: MikroORM): void {
  let last = { backlog: 0, oldestAge: 0 };
  const read = async () => {
    const knex = orm.em.getConnection().getKnex();
    const query = knex.raw<{ rows: { backlog: number; oldest_age: number | null }[] }>(
      `select (select count(*)::int from (select 1 from outbox limit ?) capped) as backlog,
              (select extract(epoch from clock_timestamp() - created_at)::float8 from outbox order by id limit 1) as oldest_age`,
      [BACKLOG_COUNT_LIMIT],
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), BACKLOG_QUERY_TIMEOUT_MS)));
    try {
      const result = await Promise.race([query, timeout]);
      const row = result?.rows[0];
      if (row) last = { backlog: Number(row.backlog), oldestAge: Number(row.oldest_age ?? 0) };
    } catch {
      // Unreachable database: keep the last values (the RPC metrics show the outage).
    } finally {
      clearTimeout(timer);
    }
    return last;
  };
  let pending: Promise<typeof last> | null = null;
  // Both gauges come from one query per scrape.
  const current = () => (pending ??= read().finally(() => setTimeout(() => (pending = null), 0)));
  new Gauge({
    name: 'taskproc_outbox_backlog',
    help: `Outbox entries not yet published (counted up to ${BACKLOG_COUNT_LIMIT}).`,
    registers: [registry],
    async collect() {
      this.set((await current()).backlog);
    },
  });
  new Gauge({
    name: 'taskproc_outbox_oldest_entry_age_seconds',
    help: 'Age of the oldest unpublished outbox entry (0 when the outbox is empty).',
    registers: [registry],
    async collect() {
      this.set((await current()).oldestAge);
    },
  });
}
