import { createRequire } from 'node:module';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { LEDGER_ROWS, processSource, startLedger } from '../lib/cpu-ledger.js';
import { log, percentile, produce, readRequest, type PeerResult, type PeerRun } from './protocol.js';

// BullMQ, in one process (producers and worker), on the machine's Redis:
// `producers` closed loops add one job each per call (Queue.add, as a
// per-task API call would), one Worker with `consumerSlots` concurrency runs
// a no-op handler. Jobs keep BullMQ's default options (completed jobs are
// kept, as by default); everything under this run's key prefix is removed at
// the end.

const request = readRequest();
const { version } = createRequire(import.meta.url)('bullmq/package.json') as { version: string };
const url = new URL(request.url);
const connection = { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };
const prefix = request.namespace;

const admin = new Redis({ ...connection, lazyConnect: true });
await admin.connect();
const durability = await redisDurability(admin);
const redisPid = Number(/process_id:(\d+)/.exec(await admin.info('server'))?.[1]);

const queue = new Queue('tasks', { connection, prefix });
const completedAt = new Map<string, number>();
let completed = 0;
let target = 0;
let allCompleted: () => void = () => {};
const worker = new Worker('tasks', async () => {}, { connection, prefix, concurrency: request.consumerSlots });
worker.on('completed', (job: Job) => {
  completedAt.set(job.id!, performance.now());
  if (++completed === target) allCompleted();
});
await worker.waitUntilReady();
await queue.waitUntilReady();

async function run(count: number, measured: boolean): Promise<PeerRun> {
  completed = 0;
  target = count;
  completedAt.clear();
  const done = new Promise<void>((resolve) => (allCompleted = resolve));
  const sentAt = new Map<string, number>();
  const ledger = await startLedger([processSource(LEDGER_ROWS.peer, process.pid), processSource(LEDGER_ROWS.redis, redisPid, 'shared with other sessions')]);
  const started = performance.now();
  await produce(count, request.producers, async (i) => {
    const sent = performance.now();
    const job = await queue.add('task', { content: `bench bullmq task ${i}` });
    sentAt.set(job.id!, sent);
  });
  const enqueued = performance.now();
  await done;
  const ended = performance.now();
  const figures = await ledger.stop(count);
  const latencies = [...sentAt].map(([id, sent]) => completedAt.get(id)! - sent);
  const result = {
    perSecond: (count * 1000) / (ended - started),
    enqueuePerSecond: (count * 1000) / (enqueued - started),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    ledger: figures,
  };
  if (measured) log(`BullMQ: ${Math.round(result.perSecond)}/s end to end, adds ${Math.round(result.enqueuePerSecond)}/s`);
  return result;
}

try {
  await run(request.warmup, false);
  const runs: PeerRun[] = [];
  for (let i = 0; i < request.runs; i++) runs.push(await run(request.count, true));
  const result: PeerResult = {
    peer: 'BullMQ',
    version,
    durability,
    settings: { producers: request.producers, workerConcurrency: request.consumerSlots, redis: `${connection.host}:${connection.port}` },
    runs,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await worker.close();
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  await admin.quit();
}

/** "Redis without persistence (...)" or what persistence it has, from its own configuration. */
async function redisDurability(redis: Redis): Promise<string> {
  const [, save] = (await redis.config('GET', 'save')) as string[];
  const [, appendonly] = (await redis.config('GET', 'appendonly')) as string[];
  const [, fsync] = (await redis.config('GET', 'appendfsync')) as string[];
  if (appendonly === 'no' && !save) return 'Redis without persistence (appendonly no, no RDB snapshots)';
  return `Redis with persistence (appendonly ${appendonly}${appendonly === 'yes' ? `, appendfsync ${fsync}` : ''}, save "${save}")`;
}
