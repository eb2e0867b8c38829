import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { grpcClient, restClient } from './lib/clients.js';
import { attachDatabase, createBenchDatabase, type BenchDatabase } from './lib/bench-database.js';
import { Observer } from './lib/observer.js';
import { LEDGER_ROWS, pidsByCommand, postgresSources, processSource, type LedgerSource } from './lib/cpu-ledger.js';
import { formatGoals, formatLedger, formatTable, fmt, type Goal, type LedgerColumn, type Row } from './lib/report.js';
import { readBenchSettings } from './lib/settings.js';
import { median, medianRun } from './lib/stats.js';
import { assertBuilt, BenchSystem } from './lib/system.js';
import { measureCreate, type CreateRun } from './scenarios/create.js';
import { measureCreateOptions, type CreateOptionsFigures } from './scenarios/create-options.js';
import { measureDrain, type DrainRun } from './scenarios/drain.js';
import { measureFailingDrain, type FailingDrainRun } from './scenarios/failing-drain.js';
import { measureBurst, type BurstRun } from './scenarios/burst.js';
import { batchCreateMethod, measureH2loadBatch, measureH2loadCreate, measureWrkCreate, type CLoadRun, type LedgerContext } from './scenarios/c-load.js';
import { measureEndToEnd, measurePacedLatency, measureUnloadedLatency, type EndToEndRun } from './scenarios/end-to-end.js';
import { measureBullmq, measurePgBoss } from './scenarios/peers.js';
import type { PeerResult } from './peers/protocol.js';
import { measurePostgresLimit, type PostgresLimit } from './scenarios/limit-postgres.js';
import { measureRabbitLimit, type RabbitLimit } from './scenarios/limit-rabbitmq.js';
import { measureWatching, watchingRows, type WatchingFigures } from './scenarios/watching.js';
import { measureTelemetryOverhead, telemetryOverheadRows, type TelemetryOverhead } from './scenarios/telemetry-overhead.js';

// `make bench`: measures the limits of PostgreSQL and RabbitMQ and the peers
// (BullMQ, pg-boss) on this machine, then the system against them, driven by
// the Node.js client and by C load generators, and prints the figures, the
// CPU ledger and the performance goals from this one run. Figures go to
// bench/results/<time>-<commit>.json and bench/results/latest.json.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const settings = readBenchSettings();
// Before the limits and the peers (minutes), not when the system starts.
if (!settings.target) assertBuilt(settings.servicesFrom);
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const suffix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

interface Figures {
  limits?: { postgres: PostgresLimit; rabbitmq: RabbitLimit };
  peers?: { bullmq: PeerResult; pgBoss: PeerResult };
  create?: { grpc: CreateRun[]; rest: CreateRun[] };
  endToEnd?: { saturated: EndToEndRun[]; paced: EndToEndRun; pacedRate: number; unloaded: EndToEndRun };
  cLoad?: { grpc: CLoadRun[]; rest: CLoadRun[] };
  /** Keyed by batch size; `unavailable` says why there is none. */
  bulk?: { runs: Record<string, CLoadRun[]>; unavailable?: string };
  burst?: { run?: BurstRun; unavailable?: string; batchSize: number };
  drain?: DrainRun[];
  failingDrain?: FailingDrainRun;
  createOptions?: CreateOptionsFigures;
  watching?: WatchingFigures;
  telemetry?: TelemetryOverhead;
}
const figures: Figures = {};
const started = Date.now();
const loadAverage = { start: loadavg(), end: [] as number[] };

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

  if (settings.phases.includes('peers')) {
    const shape = {
      count: settings.e2eCount,
      producers: settings.concurrency,
      runs: settings.runs,
      warmup: settings.warmup,
      consumers: settings.processors,
      consumerSlots: settings.processors * Number(settings.serviceEnv.PROCESSOR_PREFETCH ?? 100),
    };
    log(`peer BullMQ (${settings.redisUrl}): ${settings.runs} x ${shape.count} jobs, ${shape.producers} producers, no-op worker of concurrency ${shape.consumerSlots}`);
    const bullmq = await measureBullmq(settings.redisUrl, suffix, shape);
    log(`peer pg-boss: ${settings.runs} x ${shape.count} jobs, ${shape.producers} producers, ${shape.consumers} no-op workers fetching ${shape.consumerSlots / shape.consumers}`);
    const pgBoss = await measurePgBoss(settings.baseDatabaseUrl, suffix, shape);
    figures.peers = { bullmq, pgBoss };
  }

  // Peers, listing, watching and the telemetry overhead start databases (and a task-api) of their own.
  const needsSystem = settings.phases.some((p) => !['limits', 'peers', 'watch', 'telemetry'].includes(p));
  let grpcUrl = settings.target ?? '';
  let gatewayUrl = settings.targetGatewayUrl ?? '';
  if (needsSystem && !settings.target) {
    db = await createBenchDatabase(settings.baseDatabaseUrl, `taskproc_bench_${suffix}`);
    cleanups.push(() => db!.drop());
    log(`starting task-api, gateway and ${settings.processors} processors (${settings.servicesFrom === 'build' ? 'the build: dist/main.js' : 'the sources under tsx'}) on ${db.url}`);
    system = await BenchSystem.start(
      {
        serviceEnv: settings.serviceEnv,
        databaseUrl: db.url,
        amqpUrl: settings.amqpUrl,
        namespace: `taskproc-bench.${suffix}`,
        gatewayPort: settings.gatewayPort,
        logDir: `${ROOT}.run/bench/${stamp}`,
        from: settings.servicesFrom,
      },
      processorEnv,
      settings.processors,
    );
    cleanups.unshift(async () => system?.close());
    grpcUrl = system.grpcUrl;
    gatewayUrl = system.gatewayUrl;
  } else if (needsSystem) {
    db = attachDatabase(settings.targetDatabaseUrl!);
    cleanups.push(() => db!.drop());
  }
  const observer = db ? new Observer(db) : null;
  const grpc = grpcClient(grpcUrl || 'http://127.0.0.1:1');
  // Every process a run involves, for the CPU ledger.
  const services = system?.services() ?? [];
  const ledgerSources: LedgerSource[] = [
    ...services.map((s) => processSource(s.name, s.pid)),
    processSource(LEDGER_ROWS.bench, process.pid),
    ...(db ? postgresSources(async (sql, params) => db!.query<{ pid: number }>(sql, params), new URL(db.url).pathname.slice(1), 'taskproc-bench-observer') : []),
    { name: LEDGER_ROWS.rabbitmq, pids: () => pidsByCommand('beam.smp'), note: 'shared with other sessions' },
  ];
  const ledgerContext: LedgerContext = { sources: ledgerSources, services };

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

  if (settings.phases.includes('create-options')) {
    log('create options: BatchCreateTasks of 100 and 1,000 end to end, scheduled-task lateness');
    await observer!.waitForIdle(600_000, 500);
    const shape = { tasks: settings.createCount * 2, batchSizes: [100, 1_000], concurrency: 4, scheduledTasks: 2_000, scheduledWindowSeconds: 10 };
    figures.createOptions = await measureCreateOptions(grpcUrl, db!, observer!, shape);
  }

  if (settings.phases.includes('e2e')) {
    await observer!.waitForTransitions('0', ['completed'], 0, 1); // the observer can reach the database
    log('waiting for earlier tasks to complete');
    await observer!.waitForIdle(600_000, 500);
    log(`end-to-end, saturated: ${settings.runs} x ${settings.e2eCount}, ${settings.concurrency} callers, PROCESSING_DURATION_MS=0`);
    const saturated = await measureEndToEnd(grpc, observer!, services, { count: settings.e2eCount, concurrency: settings.concurrency, runs: settings.runs }, ledgerSources);
    log(`end-to-end, paced at ${settings.pacedRate}/s for ${settings.pacedSeconds} s`);
    const paced = await measurePacedLatency(grpc, observer!, settings.pacedRate, settings.pacedSeconds);
    log(`end-to-end, unloaded: ${settings.unloadedCount} creates one at a time`);
    const unloaded = await measureUnloadedLatency(grpc, observer!, settings.unloadedCount);
    figures.endToEnd = { saturated, paced, pacedRate: settings.pacedRate, unloaded };
  }

  if (settings.phases.includes('cload')) {
    log(`C load, gRPC: h2load, ${settings.runs} x ${settings.e2eCount} CreateTask, ${settings.concurrency} streams on one connection`);
    const grpcRuns = await measureH2loadCreate(observer!, grpcUrl, ledgerContext, { count: settings.e2eCount, streams: settings.concurrency, runs: settings.runs, warmup: settings.warmup });
    let restRuns: CLoadRun[] = [];
    if (gatewayUrl) {
      log(`C load, REST: wrk, ${settings.runs} x ${settings.wrkSeconds} s of POST /task, ${settings.concurrency} connections`);
      restRuns = await measureWrkCreate(observer!, gatewayUrl, ledgerContext, { connections: settings.concurrency, seconds: settings.wrkSeconds, runs: settings.runs, warmupSeconds: 2 });
    }
    figures.cLoad = { grpc: grpcRuns, rest: restRuns };
  }

  const batchCreate = batchCreateMethod();
  const noBatch = 'BatchCreateTasks is not in the generated client yet';
  if (settings.phases.includes('bulk')) {
    figures.bulk = { runs: {} };
    if (!batchCreate) {
      figures.bulk.unavailable = noBatch;
      log(`bulk: not available (${noBatch})`);
    }
    for (const size of batchCreate ? settings.bulkSizes : []) {
      log(`bulk: h2load, ${settings.runs} x ${settings.bulkCount} tasks in BatchCreateTasks of ${size}`);
      figures.bulk.runs[size] = await measureH2loadBatch(observer!, grpcUrl, ledgerContext, batchCreate!, { count: settings.bulkCount, batchSize: size, streams: settings.concurrency, runs: settings.runs });
    }
  }

  if (settings.phases.includes('burst')) {
    const batchSize = Math.max(...settings.bulkSizes);
    figures.burst = { batchSize };
    if (!batchCreate) {
      figures.burst.unavailable = noBatch;
      log(`burst: not available (${noBatch})`);
    } else {
      log(`burst: ${settings.burstCount} tasks in BatchCreateTasks of ${batchSize}, ${settings.concurrency} callers, refusals retried`);
      figures.burst.run = await measureBurst(grpcUrl, observer!, services, batchCreate, { count: settings.burstCount, batchSize, concurrency: settings.concurrency, callTimeoutMs: 30_000 });
      log(`  ${figures.burst.run.completed} of ${figures.burst.run.requested} completed in ${figures.burst.run.seconds.toFixed(1)} s, refusals ${JSON.stringify(figures.burst.run.refused)}, other errors ${figures.burst.run.otherErrors}`);
    }
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
  if (settings.phases.includes('watch')) {
    figures.watching = await measureWatching({ baseDatabaseUrl: settings.baseDatabaseUrl, amqpUrl: settings.amqpUrl, serviceEnv: settings.serviceEnv, servicesFrom: settings.servicesFrom, logDir: `${ROOT}.run/bench/${stamp}`, log });
  }
  grpc.close();

  if (settings.phases.includes('telemetry')) {
    // Systems of its own (tracing off, then on), started after the others stopped.
    await system?.close();
    system = null;
    figures.telemetry = await measureTelemetryOverhead(
      { ...settings, count: settings.telemetryCount, runs: settings.runs, sampleRatio: settings.telemetrySampleRatio, logDir: `${ROOT}.run/bench/${stamp}`, suffix },
      log,
    );
  }
} finally {
  for (const cleanup of cleanups) await cleanup().catch((error: unknown) => log(`cleanup failed: ${String(error)}`));
}

loadAverage.end = loadavg();
const machineInfo = await machine();
const rows = tableRows(figures);
const ledger = ledgerColumns(figures);
const goals = goalRows(figures, machineInfo);
process.stdout.write(`\n${formatTable(rows)}\n\n`);
if (ledger.length > 0) process.stdout.write(`CPU ledger: CPU ms per task of each process, over the median saturated run of each kind (from /proc)\n\n${formatLedger(ledger)}\n\n`);
if (goals.length > 0) process.stdout.write(`Goals, from this run\n\n${formatGoals(goals)}\n\n`);
const load = (l: number[]) => l.map((v) => v.toFixed(2)).join(', ');
process.stdout.write(`Load average (1, 5, 15 min) at the start: ${load(loadAverage.start)}; at the end: ${load(loadAverage.end)} (${machineInfo.cpus} CPUs, shared with whatever else runs on this machine)\n`);
if (!settings.target) process.stdout.write(`Services started by the bench ran ${settings.servicesFrom === 'build' ? 'from the build (dist/main.js, as the runtime image runs them)' : 'from the sources under tsx (BENCH_FROM=source)'}.\n`);
if (figures.peers) process.stdout.write(`BullMQ's store: ${figures.peers.bullmq.durability}. pg-boss's and taskproc's: ${figures.peers.pgBoss.durability}.\n`);
const result = {
  commit: git(['rev-parse', 'HEAD']),
  dirty: git(['status', '--porcelain', '--', 'packages', 'services', 'gateway', 'bench']) !== '',
  startedAt: new Date(started).toISOString(),
  durationSeconds: Math.round((Date.now() - started) / 1000),
  machine: machineInfo,
  loadAverage,
  settings: { ...settings, serviceEnv: undefined, services: pick(settings.serviceEnv, ['DATABASE_POOL_SIZE', 'PROCESSOR_PREFETCH', 'OUTBOX_BATCH_SIZE', 'LOG_LEVEL', 'QUEUE_DELIVERY_LIMIT']) },
  table: rows,
  ledger,
  goals,
  figures,
};
mkdirSync(`${ROOT}bench/results`, { recursive: true });
const file = `${ROOT}bench/results/${stamp}-${result.commit.slice(0, 8)}.json`;
writeFileSync(file, JSON.stringify(result, null, 2));
writeFileSync(`${ROOT}bench/results/latest.json`, JSON.stringify(result, null, 2));
log(`figures written to ${file} and bench/results/latest.json (${result.durationSeconds} s)`);

function byRate<T extends { perSecond: number }>(runs: T[]): T {
  return medianRun(runs, (r) => r.perSecond);
}

function tableRows(f: Figures): Row[] {
  const rows: Row[] = [];
  const pgLimit = f.limits?.postgres.livesPerSecond;
  const mqLimit = f.limits?.rabbitmq.messagesPerSecond;
  if (f.limits) {
    rows.push({ figure: `limit 6a: PostgreSQL task lives (tx + 2 updates), ${f.limits.postgres.connections} conns`, value: fmt.rate(f.limits.postgres.livesPerSecond) });
    rows.push({ figure: `limit 6b: RabbitMQ persistent msgs, confirm + quorum + prefetch ${f.limits.rabbitmq.prefetch}`, value: fmt.rate(f.limits.rabbitmq.messagesPerSecond) });
  }
  const bullmq = f.peers && byRate(f.peers.bullmq.runs);
  const pgBoss = f.peers && byRate(f.peers.pgBoss.runs);
  if (f.peers) {
    for (const [peer, run, where] of [
      [f.peers.bullmq, bullmq!, 'Redis without persistence' ],
      [f.peers.pgBoss, pgBoss!, 'PostgreSQL'],
    ] as const) {
      const store = peer.durability.startsWith('Redis with persistence') ? 'Redis with persistence' : where;
      rows.push({ figure: `peer ${peer.peer} ${peer.version}, in-process, ${store}, ${peer.settings.producers} producers, no-op, end to end`, value: fmt.rate(run.perSecond), ratio: pgLimit ? `${fmt.ratio(run.perSecond / pgLimit)} of 6a` : undefined });
      rows.push({ figure: `peer ${peer.peer}: adds/s; add-to-completed p50 / p99`, value: `${fmt.rate(run.enqueuePerSecond)}; ${fmt.ms(run.p50Ms)} / ${fmt.ms(run.p99Ms)}` });
    }
  }
  const ratio = (v: number, limit: number | undefined) => (limit ? fmt.ratio(v / limit) : undefined);
  const toPeers = (v: number) => [pgLimit && `${ratio(v, pgLimit)} of 6a`, pgBoss && `${fmt.ratio(v / pgBoss.perSecond)} of pg-boss`, bullmq && `${fmt.ratio(v / bullmq.perSecond)} of BullMQ`].filter(Boolean).join(', ') || undefined;
  if (f.create) {
    const g = medianRun(f.create.grpc, (r) => r.perSecond);
    rows.push({ figure: 'create gRPC (Node.js client)', value: fmt.rate(g.perSecond), ratio: pgLimit ? `${ratio(g.perSecond, pgLimit)} of 6a` : undefined, target: '>= 0.50 of 6a', met: pgLimit ? g.perSecond >= 0.5 * pgLimit : undefined });
    rows.push({ figure: 'create gRPC latency p50 / p99 (Node.js client)', value: `${fmt.ms(g.p50Ms)} / ${fmt.ms(g.p99Ms)}` });
    if (f.create.rest.length > 0) {
      const r = medianRun(f.create.rest, (x) => x.perSecond);
      rows.push({ figure: 'create REST (gateway, Node.js client)', value: fmt.rate(r.perSecond), ratio: `${fmt.ratio(r.perSecond / g.perSecond)} of gRPC`, target: '>= 0.80 of gRPC', met: r.perSecond >= 0.8 * g.perSecond });
      rows.push({ figure: 'create REST latency p50 / p99 (Node.js client)', value: `${fmt.ms(r.p50Ms)} / ${fmt.ms(r.p99Ms)}` });
    }
  }
  if (f.cLoad) {
    const g = byRate(f.cLoad.grpc);
    rows.push({ figure: 'create gRPC (h2load, 64 streams)', value: fmt.rate(g.createsPerSecond), ratio: pgLimit ? `${ratio(g.createsPerSecond, pgLimit)} of 6a` : undefined });
    rows.push({ figure: 'create gRPC latency p50 / p99 (h2load)', value: `${fmt.ms(g.callP50Ms)} / ${fmt.ms(g.callP99Ms)}` });
    if (f.cLoad.rest.length > 0) {
      const r = byRate(f.cLoad.rest);
      rows.push({ figure: 'create REST (gateway, wrk, 64 connections)', value: fmt.rate(r.createsPerSecond), ratio: `${fmt.ratio(r.createsPerSecond / g.createsPerSecond)} of gRPC (h2load)` });
      rows.push({ figure: 'create REST latency p50 / p99 (wrk)', value: `${fmt.ms(r.callP50Ms)} / ${fmt.ms(r.callP99Ms)}` });
    }
  }
  if (f.endToEnd) {
    const e = byRate(f.endToEnd.saturated);
    rows.push({ figure: 'end-to-end (work 0 ms), saturated, Node.js gRPC client', value: fmt.rate(e.perSecond), ratio: [ratio(e.perSecond, pgLimit) && `${ratio(e.perSecond, pgLimit)} of 6a, ${ratio(e.perSecond, mqLimit)} of 6b`, toPeers(e.perSecond)?.replace(/^[^,]* of 6a, ?/, '')].filter(Boolean).join(', '), target: '>= 1,900/s, then >= 7,000/s', met: e.perSecond >= 1_900 });
    rows.push({ figure: 'create-to-completed p50 / p99, saturated', value: `${fmt.ms(e.p50Ms)} / ${fmt.ms(e.p99Ms)}` });
  }
  if (f.cLoad) {
    const g = byRate(f.cLoad.grpc);
    rows.push({ figure: 'end-to-end (work 0 ms), saturated, h2load gRPC', value: fmt.rate(g.perSecond), ratio: toPeers(g.perSecond) });
    if (f.cLoad.rest.length > 0) {
      const r = byRate(f.cLoad.rest);
      rows.push({ figure: 'end-to-end (work 0 ms), saturated, wrk REST', value: fmt.rate(r.perSecond), ratio: toPeers(r.perSecond) });
    }
  }
  if (f.bulk) {
    if (f.bulk.unavailable) rows.push({ figure: 'end-to-end, BatchCreateTasks x 100 / x 1,000 (h2load)', value: `not available (${f.bulk.unavailable})` });
    for (const [size, runs] of Object.entries(f.bulk.runs)) {
      const b = byRate(runs);
      rows.push({ figure: `end-to-end, BatchCreateTasks x ${Number(size).toLocaleString('en-US')} (h2load, ${b.tasks} tasks)`, value: fmt.rate(b.perSecond), ratio: toPeers(b.perSecond) });
      rows.push({ figure: `BatchCreateTasks x ${Number(size).toLocaleString('en-US')}: tasks created/s; call p50 / p99`, value: `${fmt.rate(b.createsPerSecond)}; ${fmt.ms(b.callP50Ms)} / ${fmt.ms(b.callP99Ms)}` });
    }
  }
  if (f.endToEnd) {
    const p = f.endToEnd.paced;
    const refused = p.failedCreates > 0 ? `, ${p.failedCreates} creates refused` : '';
    rows.push({ figure: `create-to-completed p50 / p99 at ${f.endToEnd.pacedRate}/s${refused}`, value: `${fmt.ms(p.p50Ms)} / ${fmt.ms(p.p99Ms)}`, target: 'p99 < 100 ms', met: p.p99Ms < 100 && p.failedCreates === 0 });
    const u = f.endToEnd.unloaded;
    rows.push({ figure: `create-to-completed p50 / p99 unloaded (${u.count} creates one at a time)`, value: `${fmt.ms(u.p50Ms)} / ${fmt.ms(u.p99Ms)}` });
    const e = byRate(f.endToEnd.saturated);
    for (const cost of e.cost) {
      rows.push({ figure: `cost ${cost.service}: CPU per 1,000 tasks, peak RSS`, value: `${cost.cpuSecondsPer1000.toFixed(2)} s, ${Math.round(cost.peakRssMiB)} MiB` });
    }
  }
  for (const b of f.createOptions?.batches ?? []) {
    rows.push({ figure: `BatchCreateTasks of ${b.batchSize} (${b.concurrency} callers): created / end to end`, value: `${fmt.rate(b.createPerSecond)} / ${fmt.rate(b.endToEndPerSecond)}` });
    rows.push({ figure: `BatchCreateTasks of ${b.batchSize}: call p50 / p99`, value: `${fmt.ms(b.callP50Ms)} / ${fmt.ms(b.callP99Ms)}` });
  }
  if (f.createOptions) {
    const s = f.createOptions.scheduled;
    rows.push({ figure: `scheduled lateness p50 / p99 (${s.tasks} due over ${s.windowSeconds} s)`, value: `${fmt.ms(s.p50Ms)} / ${fmt.ms(s.p99Ms)}`, target: 'claimed within 1 s', met: s.p99Ms < 1_000 });
  }
  if (f.burst?.run) {
    const b = f.burst.run;
    rows.push({ figure: `burst of ${b.requested.toLocaleString('en-US')} (BatchCreateTasks x ${f.burst.batchSize.toLocaleString('en-US')}): completed, time, refusals`, value: `${b.completed.toLocaleString('en-US')} in ${b.seconds.toFixed(1)} s, ${JSON.stringify(b.refused)}, ${b.otherErrors} other errors` });
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
  if (f.watching) rows.push(...watchingRows(f.watching));
  if (f.telemetry) rows.push(...telemetryOverheadRows(f.telemetry));
  return rows;
}

/** One column per kind of saturated run: its median run's ledger. */
function ledgerColumns(f: Figures): LedgerColumn[] {
  const columns: LedgerColumn[] = [];
  if (f.endToEnd) {
    const e = byRate(f.endToEnd.saturated);
    if (e.ledger) columns.push({ title: 'Node gRPC e2e', ledger: e.ledger });
  }
  if (f.cLoad) {
    columns.push({ title: 'h2load gRPC e2e', ledger: byRate(f.cLoad.grpc).ledger });
    if (f.cLoad.rest.length > 0) columns.push({ title: 'wrk REST e2e', ledger: byRate(f.cLoad.rest).ledger });
  }
  for (const [size, runs] of Object.entries(f.bulk?.runs ?? {})) columns.push({ title: `batch x ${size} e2e`, ledger: byRate(runs).ledger });
  if (f.peers) {
    columns.push({ title: 'BullMQ', ledger: byRate(f.peers.bullmq.runs).ledger });
    columns.push({ title: 'pg-boss', ledger: byRate(f.peers.pgBoss.runs).ledger });
  }
  return columns;
}

function goalRows(f: Figures, machineInfo: Awaited<ReturnType<typeof machine>>): Goal[] {
  const goals: Goal[] = [];
  const notAvailable = (why: string) => ({ value: `not available (${why})` });
  const bullmq = f.peers && byRate(f.peers.bullmq.runs).perSecond;
  const pgBoss = f.peers && byRate(f.peers.pgBoss.runs).perSecond;
  const vs = (v: number, peer: number | undefined, name: string) => (peer ? { ratio: `${fmt.ratio(v / peer)} of ${name}`, met: v >= peer } : { ratio: `${name} not measured` });

  if (f.cLoad) {
    const g = byRate(f.cLoad.grpc).perSecond;
    goals.push({ goal: '1', figure: 'per-task create end to end, h2load, 64 streams, 0 ms work', value: fmt.rate(g), target: '>= 1.00 of pg-boss', ...vs(g, pgBoss, 'pg-boss') });
  }
  if (f.endToEnd) {
    const e = byRate(f.endToEnd.saturated).perSecond;
    goals.push({ goal: '1', figure: '  the same with the Node.js client (beside; the goal is for the C load)', value: fmt.rate(e), ...(pgBoss ? { ratio: `${fmt.ratio(e / pgBoss)} of pg-boss` } : {}) });
  }
  if (f.bulk) {
    const durable = machineInfo.synchronousCommit === 'on' && machineInfo.fsync === 'on';
    for (const size of settings.bulkSizes) {
      const figure = `bulk end to end, BatchCreateTasks x ${size.toLocaleString('en-US')}, 0 ms work (synchronous_commit ${machineInfo.synchronousCommit}, persistent confirmed messages)`;
      const runs = f.bulk.runs[size];
      if (!runs) {
        goals.push({ goal: '2', figure, ...notAvailable(f.bulk.unavailable ?? 'not run') });
        continue;
      }
      const b = byRate(runs).perSecond;
      const against = vs(b, bullmq, 'BullMQ');
      goals.push({ goal: '2', figure, value: fmt.rate(b), target: '>= 1.00 of BullMQ', ...against, met: against.met === undefined ? undefined : against.met && durable });
    }
  }
  if (f.cLoad && f.cLoad.rest.length > 0) {
    const g = byRate(f.cLoad.grpc).createsPerSecond;
    const r = byRate(f.cLoad.rest).createsPerSecond;
    goals.push({ goal: '3', figure: 'REST through the embedded gateway vs gRPC, creates/s (wrk vs h2load)', value: `${fmt.rate(r)} vs ${fmt.rate(g)}`, ratio: `${fmt.ratio(r / g)} of gRPC`, target: '>= 0.90 of gRPC', met: r >= 0.9 * g });
  }
  if (f.create && f.create.rest.length > 0) {
    const g = medianRun(f.create.grpc, (r) => r.perSecond).perSecond;
    const r = medianRun(f.create.rest, (x) => x.perSecond).perSecond;
    goals.push({ goal: '3', figure: '  the same with the Node.js client (beside)', value: `${fmt.rate(r)} vs ${fmt.rate(g)}`, ratio: `${fmt.ratio(r / g)} of gRPC` });
  }
  if (f.endToEnd) {
    const u = f.endToEnd.unloaded;
    goals.push({ goal: '3', figure: `unloaded create -> completed p99 (${u.count} creates one at a time, Node.js client)`, value: fmt.ms(u.p99Ms), target: '< 25 ms', met: u.p99Ms < 25 });
  }
  if (f.drain && f.drain.length > 0) {
    const d = medianRun(f.drain, (r) => r.efficiency);
    goals.push({ goal: '3', figure: `drain efficiency, ${d.completed + d.canceled} tasks x 3 s at prefetch 1,000`, value: fmt.ratio(d.efficiency), target: '>= 0.98', met: d.efficiency >= 0.98 });
  }
  // Peak RSS of each service over every saturated run of this bench run.
  const peaks = new Map<string, number>();
  const note = (name: string, mib: number) => Number.isFinite(mib) && peaks.set(name, Math.max(peaks.get(name) ?? 0, mib));
  for (const run of f.endToEnd?.saturated ?? []) for (const c of run.cost) note(c.service, c.peakRssMiB);
  for (const run of [...(f.cLoad?.grpc ?? []), ...(f.cLoad?.rest ?? []), ...Object.values(f.bulk?.runs ?? {}).flat()]) for (const [name, mib] of Object.entries(run.peakRssMiB)) note(name, mib);
  if (peaks.size > 0) {
    const api = peaks.get('task-api');
    if (api !== undefined) goals.push({ goal: '4', figure: 'task-api peak RSS over the saturated runs', value: `${Math.round(api)} MiB`, target: '<= 300 MiB', met: api <= 300 });
    const processors = [...peaks].filter(([name]) => name.startsWith('processor'));
    if (processors.length > 0) {
      const worst = Math.max(...processors.map(([, mib]) => mib));
      goals.push({ goal: '4', figure: `processor peak RSS over the saturated runs (largest of ${processors.length})`, value: `${Math.round(worst)} MiB`, target: '<= 300 MiB', met: worst <= 300 });
    }
  }
  if (f.burst) {
    const figure = `burst of ${settings.burstCount.toLocaleString('en-US')} tasks (BatchCreateTasks x ${f.burst.batchSize.toLocaleString('en-US')}, ${settings.concurrency} callers): drains, RSS bounded, refusals only RESOURCE_EXHAUSTED / UNAVAILABLE`;
    const b = f.burst.run;
    if (!b) goals.push({ goal: '4', figure, ...notAvailable(f.burst.unavailable ?? 'not run') });
    else {
      const worst = Math.max(...Object.entries(b.peakRssMiB).filter(([n]) => n === 'task-api' || n.startsWith('processor')).map(([, mib]) => mib));
      const drained = b.created === b.requested && b.completed === b.created;
      goals.push({
        goal: '4',
        figure,
        value: `${b.completed.toLocaleString('en-US')} of ${b.requested.toLocaleString('en-US')} completed, peak RSS ${Math.round(worst)} MiB, ${b.otherErrors} other errors`,
        target: 'all, <= 300 MiB, 0',
        met: drained && worst <= 300 && b.otherErrors === 0,
      });
    }
  }
  return goals;
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
  let synchronousCommit = 'unknown';
  let fsync = 'unknown';
  try {
    await client.connect();
    postgres = (await client.query<{ v: string }>('select version() as v')).rows[0]!.v;
    synchronousCommit = (await client.query<{ v: string }>("select current_setting('synchronous_commit') as v")).rows[0]!.v;
    fsync = (await client.query<{ v: string }>("select current_setting('fsync') as v")).rows[0]!.v;
  } catch {
    // only descriptive
  } finally {
    await client.end().catch(() => {});
  }
  return { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, postgres, synchronousCommit, fsync };
}
