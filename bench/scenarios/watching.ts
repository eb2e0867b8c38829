import { randomBytes } from 'node:crypto';
import http2 from 'node:http2';
import { loadavg } from 'node:os';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { TaskService, TaskStatus, WatchTaskRequestSchema, WatchTaskResponseSchema, type Task } from '@taskproc/contract';
import { cpuSeconds } from '../lib/process-stats.js';
import { createBenchDatabase, type BenchDatabase } from '../lib/bench-database.js';
import { fmt, type Row } from '../lib/report.js';
import { percentile, round } from '../lib/stats.js';
import { BenchSystem, type ServicesFrom } from '../lib/system.js';

// Listing and watching (docs/watching.md), on a database and task-api of
// their own:
//   * watch latency: from the moment a change's committing statement is sent
//     to its arrival at a watcher, p50/p99, with 1 and with 1,000 watchers of
//     one task on one task-api (one listening connection). The changes are
//     re-claims of a processing task (each one change of status, as a
//     processor's takeover makes it), paced so the system is not saturated.
//   * list latency: ListTasks page 1 and page 1,000 (keyset token) over gRPC,
//     on a table of BENCH_LIST_ROWS (1,000,000) tasks made with one
//     INSERT ... SELECT generate_series, all tasks and filtered by status.
// Settings: BENCH_WATCH_CHANGES (changes per run), BENCH_WATCH_INTERVAL_MS
// (time between two changes with 1 watcher; 25x that with 1,000, whose
// thousand messages per change cost task-api tens of ms of CPU),
// BENCH_LIST_ROWS, BENCH_LIST_SAMPLES (timed reads of each page).

export interface WatchLatency {
  watchers: number;
  changes: number;
  intervalMs: number;
  samples: number;
  /** Changes some watcher never received (must be 0). */
  missed: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Listening connections task-api held during the run (pg_stat_activity). */
  listeningConnections: number;
  /** task-api CPU time over the run, per change (all its watchers' messages). */
  taskApiCpuMsPerChange: number;
  /** The machine's 1-minute load average at the end of the run (it is shared). */
  loadAverage: number;
}

export interface ListLatency {
  filter: string;
  page: number;
  pageSize: number;
  samples: number;
  p50Ms: number;
  p99Ms: number;
}

export interface WatchingFigures {
  watch: WatchLatency[];
  list: { rows: number; insertSeconds: number; plans: Record<string, string>; pages: ListLatency[] };
}

export interface WatchingOptions {
  baseDatabaseUrl: string;
  amqpUrl: string;
  serviceEnv: Record<string, string>;
  servicesFrom: ServicesFrom;
  logDir: string;
  env?: NodeJS.ProcessEnv;
  log: (message: string) => void;
}

const WATCHER_COUNTS = [1, 1_000];
const DEEP_PAGE = 1_000;
const PAGE_SIZE = 50;

export async function measureWatching(options: WatchingOptions): Promise<WatchingFigures> {
  const env = options.env ?? process.env;
  const int = (name: string, fallback: number) => (env[name] && /^\d+$/.test(env[name]!) ? Number(env[name]) : fallback);
  const changes = int('BENCH_WATCH_CHANGES', 200);
  const intervalMs = int('BENCH_WATCH_INTERVAL_MS', 20);
  const listRows = int('BENCH_LIST_ROWS', 1_000_000);
  const listSamples = int('BENCH_LIST_SAMPLES', 200);
  const suffix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const db = await createBenchDatabase(options.baseDatabaseUrl, `taskproc_bench_watch_${suffix}`);
  let system: BenchSystem | undefined;
  try {
    system = await BenchSystem.start(
      {
        serviceEnv: { ...options.serviceEnv, LOG_LEVEL: 'warn', PAGE_TOKEN_SECRET: randomBytes(24).toString('hex'), WATCH_MAX_STREAMS: '10000' },
        databaseUrl: db.url,
        amqpUrl: options.amqpUrl,
        namespace: `taskproc-bench.watch.${suffix}`,
        gatewayPort: 0,
        logDir: options.logDir,
        from: options.servicesFrom,
      },
      {},
      0,
    );
    const transport = createGrpcTransport({ baseUrl: system.grpcUrl, idleConnectionTimeoutMs: 60_000 });
    const client = createClient(TaskService, transport);
    const watch: WatchLatency[] = [];
    for (const watchers of WATCHER_COUNTS) {
      const spacing = watchers === 1 ? intervalMs : intervalMs * 25;
      options.log(`watch latency: ${watchers} watcher(s), ${changes} changes ${spacing} ms apart`);
      watch.push(await measureWatchLatency(client, system, db, watchers, changes, spacing));
    }
    options.log(`list latency: ${listRows.toLocaleString('en-US')} tasks, page 1 and page ${DEEP_PAGE} of ${PAGE_SIZE}`);
    const list = await measureListLatency(client, db, listRows, listSamples);
    return { watch, list };
  } finally {
    await system?.close();
    await db.drop();
  }
}

/**
 * One watcher as a bare gRPC call on a shared HTTP/2 session: frames are cut
 * and decoded here, without a client library's per-message machinery, so a
 * thousand of them in this process measure task-api rather than the client.
 */
function rawWatch(session: http2.ClientHttp2Session, taskId: string, onTask: (task: Task, at: number) => void): { ended: Promise<void>; close(): void } {
  const stream = session.request({ ':method': 'POST', ':path': '/taskproc.v1.TaskService/WatchTask', 'content-type': 'application/grpc', te: 'trailers' });
  const body = toBinary(WatchTaskRequestSchema, create(WatchTaskRequestSchema, { taskId }));
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(body.length, 1);
  stream.end(Buffer.concat([prefix, body]));
  let pending: Buffer = Buffer.alloc(0);
  stream.on('data', (chunk: Buffer) => {
    const at = performance.now();
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 5) {
      const length = pending.readUInt32BE(1);
      if (pending.length < 5 + length) break;
      const message = fromBinary(WatchTaskResponseSchema, pending.subarray(5, 5 + length));
      pending = pending.subarray(5 + length);
      if (message.task) onTask(message.task, at);
    }
  });
  const ended = new Promise<void>((resolve) => {
    stream.on('close', () => resolve());
    stream.on('error', () => resolve());
  });
  return { ended, close: () => stream.close(http2.constants.NGHTTP2_CANCEL) };
}

async function measureWatchLatency(
  client: Client<typeof TaskService>,
  system: BenchSystem,
  db: BenchDatabase,
  watchers: number,
  changes: number,
  spacingMs: number,
): Promise<WatchLatency> {
  const { task } = await client.createTask({ content: `watched by ${watchers}` });
  const id = task!.id;
  await db.query(`update task set status = 'processing', attempt = 1, updated_at = clock_timestamp() where id = $1`, [id]);
  // A change is known by its updated_at as the task message carries it: the
  // task's own updated_at, or its transition's time when task-api read the
  // change after a later one (docs/watching.md). Sent times and arrivals are
  // matched at the end: a notice may arrive before the statement's answer.
  const sentAt = new Map<string, number>();
  const arrivals = new Map<string, number[]>();
  let arrived = 0;
  let ready = 0;
  const session = http2.connect(system.grpcUrl);
  session.on('error', () => {});
  const streams = Array.from({ length: watchers }, () => {
    let first = true;
    return rawWatch(session, id, (current, at) => {
      if (first) {
        first = false;
        ready += 1;
        return;
      }
      const key = `${current.updatedAt!.seconds}.${current.updatedAt!.nanos}`;
      let times = arrivals.get(key);
      if (!times) arrivals.set(key, (times = []));
      times.push(at);
      arrived += 1;
    });
  });
  const deadline = Date.now() + 120_000;
  while (ready < watchers && Date.now() < deadline) await sleep(20);
  const [listening] = await db.query<{ n: number }>(
    `select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = 'taskproc-task-api-watch'`,
  );
  const apiPid = system.services()[0]!.pid;
  const cpuBefore = cpuSeconds(apiPid);
  const epochKey = (column: string) =>
    `extract(epoch from date_trunc('second', ${column}))::bigint || '.' || (extract(microseconds from ${column})::bigint % 1000000 * 1000)`;
  for (let change = 0; change < changes; change++) {
    const started = performance.now();
    const [row] = await db.query<{ key: string; id: string }>(
      `update task set attempt = attempt + 1, updated_at = clock_timestamp() where id = $1 and status = 'processing'
       returning ${epochKey('updated_at')} as key`,
      [id],
    );
    sentAt.set(row!.key, started);
    const [transition] = await db.query<{ key: string }>(
      `select ${epochKey('at')} as key from task_transition where task_id = $1 order by id desc limit 1`,
      [id],
    );
    sentAt.set(transition!.key, started);
    await sleep(Math.max(0, spacingMs - (performance.now() - started)));
  }
  const settle = Date.now() + 30_000;
  while (arrived < changes * watchers && Date.now() < settle) await sleep(50);
  const cpu = cpuSeconds(apiPid) - cpuBefore;
  for (const stream of streams) stream.close();
  await Promise.all(streams.map((stream) => stream.ended));
  session.destroy();
  const latencies: number[] = [];
  for (const [key, sent] of sentAt) for (const at of arrivals.get(key) ?? []) latencies.push(at - sent);
  return {
    watchers,
    changes,
    intervalMs: spacingMs,
    samples: latencies.length,
    missed: changes * watchers - latencies.length,
    p50Ms: round(percentile(latencies, 50), 2),
    p99Ms: round(percentile(latencies, 99), 2),
    maxMs: round(percentile(latencies, 100), 2),
    listeningConnections: listening!.n,
    taskApiCpuMsPerChange: round((cpu * 1000) / changes, 2),
    loadAverage: round(loadavg()[0]!, 1),
  };
}

async function measureListLatency(client: Client<typeof TaskService>, db: BenchDatabase, rows: number, samples: number) {
  // Bulk rows without the transition trigger: listing reads only the task
  // table, and a million notices would only load the listener.
  const insertStarted = performance.now();
  await db.query('alter table task disable trigger task_guard_transition');
  await db.query(
    `insert into task (id, content, status, attempt, created_at, updated_at)
     select gen_random_uuid(), 'bench task ' || n, case when n % 4 = 0 then 'completed' else 'pending' end,
            case when n % 4 = 0 then 1 else 0 end, clock_timestamp() - make_interval(secs => n / 10.0),
            case when n % 4 = 0 then clock_timestamp() else null end
       from generate_series(1, $1::int) as n`,
    [rows],
  );
  await db.query('alter table task enable trigger task_guard_transition');
  await db.query('analyze task');
  const insertSeconds = (performance.now() - insertStarted) / 1000;
  const plans: Record<string, string> = {};
  for (const [name, sql, params] of [
    ['all, deep page', `select * from task where (created_at, id) < ($1::timestamptz, $2::uuid) order by created_at desc, id desc limit 51`, [new Date().toISOString(), '00000000-0000-0000-0000-000000000000']],
    ['status, deep page', `select * from task where status = 'completed' and (created_at, id) < ($1::timestamptz, $2::uuid) order by created_at desc, id desc limit 51`, [new Date().toISOString(), '00000000-0000-0000-0000-000000000000']],
  ] as const) {
    const plan = await db.query<{ 'QUERY PLAN': string }>(`explain ${sql}`, [...params]);
    plans[name] = plan.map((line) => line['QUERY PLAN'].trim()).slice(0, 2).join(' / ');
  }
  const pages: ListLatency[] = [];
  for (const [filter, status] of [['all', TaskStatus.UNSPECIFIED], ['status=completed', TaskStatus.COMPLETED]] as const) {
    let token = '';
    for (let page = 1; page < DEEP_PAGE; page++) {
      token = (await client.listTasks({ status, pageSize: PAGE_SIZE, pageToken: token })).nextPageToken;
    }
    for (const [page, pageToken] of [[1, ''], [DEEP_PAGE, token]] as const) {
      const times: number[] = [];
      for (let i = 0; i < samples; i++) {
        const started = performance.now();
        const answer = await client.listTasks({ status, pageSize: PAGE_SIZE, pageToken });
        times.push(performance.now() - started);
        if (answer.tasks.length !== PAGE_SIZE) throw new Error(`page ${page} of ${filter} had ${answer.tasks.length} tasks`);
      }
      pages.push({ filter, page, pageSize: PAGE_SIZE, samples, p50Ms: round(percentile(times, 50), 2), p99Ms: round(percentile(times, 99), 2) });
    }
  }
  return { rows, insertSeconds: round(insertSeconds, 1), plans, pages };
}

/** The table rows of these figures (bench/run.ts prints them with the others). */
export function watchingRows(figures: WatchingFigures): Row[] {
  const rows: Row[] = [];
  for (const w of figures.watch) {
    rows.push({
      figure: `watch commit-to-arrival p50 / p99, ${w.watchers.toLocaleString('en-US')} watcher(s), a change every ${w.intervalMs} ms (${w.listeningConnections} listening conn, ${w.missed} missed, task-api ${w.taskApiCpuMsPerChange} ms CPU/change, load ${w.loadAverage})`,
      value: `${fmt.ms(w.p50Ms)} / ${fmt.ms(w.p99Ms)}`,
      target: 'p99 < 100 ms',
      met: w.p99Ms < 100 && w.missed === 0,
    });
  }
  const byKey = new Map(figures.list.pages.map((p) => [`${p.filter}/${p.page}`, p]));
  for (const filter of ['all', 'status=completed']) {
    const first = byKey.get(`${filter}/1`)!;
    const deep = byKey.get(`${filter}/${DEEP_PAGE}`)!;
    rows.push({
      figure: `ListTasks p50 / p99 (${filter}, ${figures.list.rows.toLocaleString('en-US')} tasks): page 1 vs page ${DEEP_PAGE}`,
      value: `${fmt.ms(first.p50Ms)} / ${fmt.ms(first.p99Ms)} vs ${fmt.ms(deep.p50Ms)} / ${fmt.ms(deep.p99Ms)}`,
      ratio: `${fmt.ratio(deep.p50Ms / first.p50Ms)} deep/first`,
      target: 'deep ~ page 1',
      met: deep.p50Ms < 2 * first.p50Ms + 1,
    });
  }
  return rows;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
