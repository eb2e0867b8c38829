import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { grpcClient, restClient } from './lib/clients.js';
import { attachDatabase, createBenchDatabase, type BenchDatabase } from './lib/bench-database.js';
import { Observer } from './lib/observer.js';
import { formatTable, fmt, type Row } from './lib/report.js';
import { readBenchSettings } from './lib/settings.js';
import { median, medianRun } from './lib/stats.js';
import { BenchSystem } from './lib/system.js';
import { measureCreate, type CreateRun } from './scenarios/create.js';
import { measureDrain, type DrainRun } from './scenarios/drain.js';
import { measureFailingDrain, type FailingDrainRun } from './scenarios/failing-drain.js';
import { measureEndToEnd, measurePacedLatency, type EndToEndRun } from './scenarios/end-to-end.js';
import { measurePostgresLimit, type PostgresLimit } from './scenarios/limit-postgres.js';
import { measureRabbitLimit, type RabbitLimit } from './scenarios/limit-rabbitmq.js';

// `make bench`: measures the limits of PostgreSQL and RabbitMQ on this
// machine, then the system against them, and prints one table. Figures go to
// bench/results/<time>-<commit>.json and bench/results/latest.json.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const settings = readBenchSettings();
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const suffix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

interface Figures {
  limits?: { postgres: PostgresLimit; rabbitmq: RabbitLimit };
  create?: { grpc: CreateRun[]; rest: CreateRun[] };
  endToEnd?: { saturated: EndToEndRun[]; paced: EndToEndRun; pacedRate: number };
  drain?: DrainRun[];
  failingDrain?: FailingDrainRun;
}
const figures: Figures = {};
const started = Date.now();

const processorEnv = { PROCESSING_DURATION_MS: '0' };
let db: BenchDatabase | null = null;
let system: BenchSystem | null = null;
const cleanups: (() => Promise<unknown>)[] = [];

try {
  if (settings.phases.includes('limits')) {
    log(`limit 6a: PostgreSQL, ${settings.concurrency} connections`);
    const limitDb = await createBenchDatabase(settings.baseDatabaseUrl, `taskproc_bench_limit_${suffix}`);
    let postgres: PostgresLimit;
    try {
      postgres = await measurePostgresLimit(limitDb.url, settings.concurrency, Math.max(2_000, Math.round(settings.createCount / 2)), 500);
    } finally {
      await limitDb.drop();
    }
    log(`limit 6b: RabbitMQ, quorum queue, ${settings.processors} consumers`);
    const prefetch = Number(settings.serviceEnv.PROCESSOR_PREFETCH ?? 100);
    const rabbitmq = await measureRabbitLimit(settings.amqpUrl, `taskproc-bench.limit.${suffix}`, 5, Math.max(10_000, settings.createCount * 2), settings.processors, prefetch);
    figures.limits = { postgres, rabbitmq };
    log(`  PostgreSQL ${Math.round(postgres.livesPerSecond)} lives/s, RabbitMQ ${Math.round(rabbitmq.messagesPerSecond)} msgs/s`);
  }

  const needsSystem = settings.phases.some((p) => p !== 'limits');
  let grpcUrl = settings.target ?? '';
  let gatewayUrl = settings.targetGatewayUrl ?? '';
  if (needsSystem && !settings.target) {
    db = await createBenchDatabase(settings.baseDatabaseUrl, `taskproc_bench_${suffix}`);
    cleanups.push(() => db!.drop());
    log(`starting task-api, gateway and ${settings.processors} processors on ${db.url}`);
    system = await BenchSystem.start(
      {
        serviceEnv: settings.serviceEnv,
        databaseUrl: db.url,
        amqpUrl: settings.amqpUrl,
        namespace: `taskproc-bench.${suffix}`,
        gatewayPort: settings.gatewayPort,
        logDir: `${ROOT}.run/bench/${stamp}`,
      },
      processorEnv,
      settings.processors,
    );
    cleanups.unshift(() => system!.close());
    grpcUrl = system.grpcUrl;
    gatewayUrl = system.gatewayUrl;
  } else if (needsSystem) {
    db = attachDatabase(settings.targetDatabaseUrl!);
    cleanups.push(() => db!.drop());
  }
  const observer = db ? new Observer(db) : null;
  const grpc = grpcClient(grpcUrl || 'http://127.0.0.1:1');

  if (settings.phases.includes('create')) {
    const shape = { count: settings.createCount, concurrency: settings.concurrency, runs: settings.runs, warmup: settings.warmup };
    log(`create over gRPC: ${settings.runs} x ${settings.createCount}, ${settings.concurrency} callers`);
    const grpcRuns = await measureCreate(grpc, 'grpc', shape);
    let restRuns: CreateRun[] = [];
    if (gatewayUrl) {
      log(`create over REST (${gatewayUrl}): ${settings.runs} x ${settings.createCount}, ${settings.concurrency} callers`);
      const rest = restClient(gatewayUrl, settings.concurrency);
      restRuns = await measureCreate(rest, 'rest', shape);
      rest.close();
    }
    figures.create = { grpc: grpcRuns, rest: restRuns };
  }

  if (settings.phases.includes('e2e')) {
    await observer!.waitForTransitions('0', ['completed'], 0, 1); // the observer can reach the database
    log('waiting for earlier tasks to complete');
    await waitForIdle(observer!);
    log(`end-to-end, saturated: ${settings.runs} x ${settings.e2eCount}, ${settings.concurrency} callers, PROCESSING_DURATION_MS=0`);
    const saturated = await measureEndToEnd(grpc, observer!, system?.services() ?? [], { count: settings.e2eCount, concurrency: settings.concurrency, runs: settings.runs });
    log(`end-to-end, paced at ${settings.pacedRate}/s for ${settings.pacedSeconds} s`);
    const paced = await measurePacedLatency(grpc, observer!, settings.pacedRate, settings.pacedSeconds);
    figures.endToEnd = { saturated, paced, pacedRate: settings.pacedRate };
  }

  if (settings.phases.includes('drain')) {
    if (!system) throw new Error('the drain phase restarts processors, so it needs the system the bench starts (unset BENCH_TARGET or drop "drain" from BENCH_PHASES)');
    figures.drain = [];
    for (let run = 0; run < settings.drainRuns; run++) {
      log(`drain run ${run + 1}: ${settings.drainCount} tasks x ${settings.drainWorkMs} ms, total prefetch ${settings.drainPrefetchTotal}, ${settings.cancels} cancels`);
      const result = await measureDrain(grpc, observer!, system, {
        count: settings.drainCount,
        concurrency: settings.concurrency,
        prefetchTotal: settings.drainPrefetchTotal,
        workMs: settings.drainWorkMs,
        processors: settings.processors,
        cancels: settings.cancels,
        processorEnv,
      });
      log(`  ${result.seconds.toFixed(1)} s (ideal ${result.idealSeconds.toFixed(1)} s), efficiency ${result.efficiency.toFixed(3)}, cancel p99 ${Math.round(result.cancel.p99Ms)} ms`);
      figures.drain.push(result);
    }
  }
  if (settings.phases.includes('failing')) {
    if (!system) throw new Error('the failing drain restarts processors, so it needs the system the bench starts');
    const shape = { count: settings.failingCount, failPercent: settings.failingPercent, workMs: settings.failingWorkMs, prefetchTotal: settings.drainPrefetchTotal };
    log(`failing drain: ${shape.count} tasks x ${shape.workMs} ms, ${shape.failPercent} % of attempts fail, total prefetch ${shape.prefetchTotal}`);
    figures.failingDrain = await measureFailingDrain(observer!, db!, system, { ...shape, processors: settings.processors, processorEnv });
    log(`  ${figures.failingDrain.seconds.toFixed(1)} s (ideal ${figures.failingDrain.idealSeconds.toFixed(1)} s), efficiency ${figures.failingDrain.efficiency.toFixed(3)}`);
  }
  grpc.close();
} finally {
  for (const cleanup of cleanups) await cleanup().catch((error: unknown) => log(`cleanup failed: ${String(error)}`));
}

const rows = tableRows(figures);
const table = formatTable(rows);
process.stdout.write(`\n${table}\n\n`);
const result = {
  commit: git(['rev-parse', 'HEAD']),
  dirty: git(['status', '--porcelain', '--', 'packages', 'services', 'gateway', 'bench']) !== '',
  startedAt: new Date(started).toISOString(),
  durationSeconds: Math.round((Date.now() - started) / 1000),
  machine: await machine(),
  settings: { ...settings, serviceEnv: undefined, services: pick(settings.serviceEnv, ['DATABASE_POOL_SIZE', 'PROCESSOR_PREFETCH', 'OUTBOX_BATCH_SIZE', 'LOG_LEVEL', 'QUEUE_DELIVERY_LIMIT']) },
  table: rows,
  figures,
};
mkdirSync(`${ROOT}bench/results`, { recursive: true });
const file = `${ROOT}bench/results/${stamp}-${result.commit.slice(0, 8)}.json`;
writeFileSync(file, JSON.stringify(result, null, 2));
writeFileSync(`${ROOT}bench/results/latest.json`, JSON.stringify(result, null, 2));
log(`figures written to ${file} and bench/results/latest.json (${result.durationSeconds} s)`);

async function waitForIdle(observer: Observer): Promise<void> {
  const { waitUntil } = await import('./lib/system.js');
  await waitUntil('earlier tasks to complete', async () => {
    const [row] = await db!.query<{ n: number }>(`select count(*)::int as n from task where status in ('pending', 'processing')`);
    return row!.n === 0;
  }, 600_000, 500);
  void observer;
}

function tableRows(f: Figures): Row[] {
  const rows: Row[] = [];
  const pgLimit = f.limits?.postgres.livesPerSecond;
  const mqLimit = f.limits?.rabbitmq.messagesPerSecond;
  if (f.limits) {
    rows.push({ figure: `limit 6a: PostgreSQL task lives (tx + 2 updates), ${f.limits.postgres.connections} conns`, value: fmt.rate(f.limits.postgres.livesPerSecond) });
    rows.push({ figure: `limit 6b: RabbitMQ persistent msgs, confirm + quorum + prefetch ${f.limits.rabbitmq.prefetch}`, value: fmt.rate(f.limits.rabbitmq.messagesPerSecond) });
  }
  const ratio = (v: number, limit: number | undefined) => (limit ? fmt.ratio(v / limit) : undefined);
  if (f.create) {
    const g = medianRun(f.create.grpc, (r) => r.perSecond);
    rows.push({ figure: 'create gRPC', value: fmt.rate(g.perSecond), ratio: pgLimit ? `${ratio(g.perSecond, pgLimit)} of 6a` : undefined, target: '>= 0.50 of 6a', met: pgLimit ? g.perSecond >= 0.5 * pgLimit : undefined });
    rows.push({ figure: 'create gRPC latency p50 / p99', value: `${fmt.ms(g.p50Ms)} / ${fmt.ms(g.p99Ms)}` });
    if (f.create.rest.length > 0) {
      const r = medianRun(f.create.rest, (x) => x.perSecond);
      rows.push({ figure: 'create REST (gateway)', value: fmt.rate(r.perSecond), ratio: `${fmt.ratio(r.perSecond / g.perSecond)} of gRPC`, target: '>= 0.80 of gRPC', met: r.perSecond >= 0.8 * g.perSecond });
      rows.push({ figure: 'create REST latency p50 / p99', value: `${fmt.ms(r.p50Ms)} / ${fmt.ms(r.p99Ms)}` });
    }
  }
  if (f.endToEnd) {
    const e = medianRun(f.endToEnd.saturated, (r) => r.perSecond);
    rows.push({ figure: 'end-to-end (work 0 ms), saturated', value: fmt.rate(e.perSecond), ratio: ratio(e.perSecond, pgLimit) && `${ratio(e.perSecond, pgLimit)} of 6a, ${ratio(e.perSecond, mqLimit)} of 6b`, target: '>= 1,900/s, then >= 7,000/s', met: e.perSecond >= 1_900 });
    rows.push({ figure: 'create-to-completed p50 / p99, saturated', value: `${fmt.ms(e.p50Ms)} / ${fmt.ms(e.p99Ms)}` });
    const p = f.endToEnd.paced;
    const refused = p.failedCreates > 0 ? `, ${p.failedCreates} creates refused` : '';
    rows.push({ figure: `create-to-completed p50 / p99 at ${f.endToEnd.pacedRate}/s${refused}`, value: `${fmt.ms(p.p50Ms)} / ${fmt.ms(p.p99Ms)}`, target: 'p99 < 100 ms', met: p.p99Ms < 100 && p.failedCreates === 0 });
    for (const cost of e.cost) {
      rows.push({ figure: `cost ${cost.service}: CPU per 1,000 tasks, peak RSS`, value: `${cost.cpuSecondsPer1000.toFixed(2)} s, ${Math.round(cost.peakRssMiB)} MiB` });
    }
  }
  if (f.drain && f.drain.length > 0) {
    const d = medianRun(f.drain, (r) => r.efficiency);
    rows.push({ figure: `drain ${d.completed + d.canceled} x 3 s at prefetch 1,000`, value: `${d.seconds.toFixed(1)} s (ideal ${d.idealSeconds.toFixed(1)} s)`, ratio: `${fmt.ratio(d.efficiency)} efficiency`, target: '>= 0.95', met: d.efficiency >= 0.95 });
    const p50 = median(f.drain.map((r) => r.cancel.p50Ms));
    const p99 = median(f.drain.map((r) => r.cancel.p99Ms));
    const missed = f.drain.reduce((n, r) => n + r.cancel.missed, 0);
    const endedFirst = f.drain.reduce((n, r) => n + r.cancel.workEndedFirst, 0);
    rows.push({ figure: `cancel-to-abort p50 / p99 under drain (${d.cancel.measured} cancels/run; ${endedFirst} work ended first, ${missed} missed)`, value: `${fmt.ms(p50)} / ${fmt.ms(p99)}`, target: 'p99 < 250 ms', met: p99 < 250 && missed === 0 });
  }
  if (f.failingDrain) {
    const d = f.failingDrain;
    rows.push({ figure: `failing drain: ${d.attempts} attempts (${d.failedAttempts} failed) of ${d.completed + d.failed} tasks at prefetch ${settings.drainPrefetchTotal}`, value: `${d.seconds.toFixed(1)} s (ideal ${d.idealSeconds.toFixed(1)} s)`, ratio: `${fmt.ratio(d.efficiency)} efficiency` });
    rows.push({ figure: 'failing drain: ideal = max(attempts x work / prefetch, longest task chain)', value: `max(${d.slotBoundSeconds.toFixed(1)} s, ${d.chainBoundSeconds.toFixed(1)} s)` });
    rows.push({ figure: 'failing drain: slots running attempts while untried tasks were queued', value: fmt.ratio(d.busyShare) });
    rows.push({ figure: 'failing drain: most tasks waiting out a backoff at once (outbox, no slot held)', value: String(d.peakWaiting) });
  }
  return rows;
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function pick(values: Record<string, string>, keys: string[]): Record<string, string | undefined> {
  return Object.fromEntries(keys.map((k) => [k, values[k]]));
}

async function machine() {
  const client = new pg.Client({ connectionString: settings.baseDatabaseUrl.replace(/\/[^/]*$/, '/postgres') });
  let postgres = 'unknown';
  try {
    await client.connect();
    postgres = (await client.query<{ v: string }>('select version() as v')).rows[0]!.v;
  } catch {
    // only descriptive
  } finally {
    await client.end().catch(() => {});
  }
  return { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, postgres };
}
