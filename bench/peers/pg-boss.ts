import { createRequire } from 'node:module';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { LEDGER_ROWS, postgresSources, processSource, startLedger, type LedgerSource } from '../lib/cpu-ledger.js';
import { log, percentile, produce, readRequest, type PeerResult, type PeerRun } from './protocol.js';

// pg-boss, in one process (producers and workers), on the machine's
// PostgreSQL, in a database of its own (run.ts makes and drops it):
// `producers` closed loops send one job each per call (boss.send), and
// `consumers` workers (localConcurrency) fetch batches of consumerSlots /
// consumers jobs with a no-op handler, fetching again at once while batches
// come back full, woken by LISTEN/NOTIFY otherwise (pg-boss's documented
// settings for throughput). The instance keeps pg-boss's defaults otherwise
// (pool of 10, maintenance on): a larger pool was slower here (64
// connections: 830/s against 1,250/s with 10).

const request = readRequest();
const { version } = createRequire(import.meta.url)('pg-boss/package.json') as { version: string };
const database = new URL(request.url).pathname.slice(1);
const queue = request.namespace;
const batchSize = Math.max(1, Math.round(request.consumerSlots / request.consumers));

const observer = new pg.Pool({ connectionString: request.url, max: 2, application_name: 'taskproc-bench-peer-observer' });
const settingOf = async (name: string) => (await observer.query<{ v: string }>(`select current_setting($1) as v`, [name])).rows[0]!.v;
const durability = `PostgreSQL, fsync ${await settingOf('fsync')}, synchronous_commit ${await settingOf('synchronous_commit')}`;
const sources: LedgerSource[] = [
  processSource(LEDGER_ROWS.peer, process.pid),
  ...postgresSources(async (sql, params) => (await observer.query<{ pid: number }>(sql, params)).rows, database, 'taskproc-bench-peer-observer'),
];

const boss = new PgBoss({ connectionString: request.url, application_name: 'taskproc-bench-pgboss', useListenNotify: true, schedule: false });
boss.on('error', (error: unknown) => log(`pg-boss error: ${String(error)}`));
await boss.start();
await boss.createQueue(queue, { notify: true });
await boss.work(queue, { batchSize, localConcurrency: request.consumers, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 }, async () => {});

async function run(count: number, measured: boolean): Promise<PeerRun> {
  const ids: string[] = [];
  const ledger = await startLedger(sources);
  const startedWall = Date.now();
  const started = performance.now();
  await produce(count, request.producers, async (i) => {
    const id = await boss.send(queue, { content: `bench pg-boss task ${i}` });
    if (id) ids.push(id);
  });
  const enqueued = performance.now();
  // Completion times come from pg-boss's own table (completed_on, the
  // database's clock), so polling for the end does not stretch the figure.
  const deadline = Date.now() + Math.max(120_000, count * 20);
  for (;;) {
    const { rows } = await observer.query<{ n: number }>(`select count(*)::int as n from pgboss.job where name = $1 and state = 'completed' and id = any($2::uuid[])`, [queue, ids]);
    if (rows[0]!.n >= count) break;
    if (Date.now() > deadline) throw new Error(`pg-boss: ${rows[0]!.n} of ${count} jobs completed before the deadline`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const figures = await ledger.stop(count);
  const { rows } = await observer.query<{ created: number; completed: number }>(
    `select extract(epoch from created_on) * 1000 as created, extract(epoch from completed_on) * 1000 as completed from pgboss.job where name = $1 and id = any($2::uuid[])`,
    [queue, ids],
  );
  const last = Math.max(...rows.map((r) => Number(r.completed)));
  const latencies = rows.map((r) => Number(r.completed) - Number(r.created));
  await boss.deleteAllJobs(queue);
  const result = {
    perSecond: (count * 1000) / (last - startedWall),
    enqueuePerSecond: (count * 1000) / (enqueued - started),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    ledger: figures,
  };
  if (measured) log(`pg-boss: ${Math.round(result.perSecond)}/s end to end, sends ${Math.round(result.enqueuePerSecond)}/s`);
  return result;
}

try {
  if (request.warmup > 0) await run(request.warmup, false);
  const runs: PeerRun[] = [];
  for (let i = 0; i < request.runs; i++) runs.push(await run(request.count, true));
  const result: PeerResult = {
    peer: 'pg-boss',
    version,
    durability,
    settings: { producers: request.producers, workers: request.consumers, batchSize, pool: 10, notify: true, burstWhenBatchFull: true },
    runs,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await boss.stop({ graceful: false, close: true }).catch(() => {});
  await observer.end();
}
