import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ServicesFrom } from './system.js';

// Every knob of `make bench`, read once from BENCH_* variables. The defaults
// are the figures (64 callers, 10,000 tasks of 3 s at a total prefetch
// of 1,000), except 5,000 creates per run instead of 20,000 (see below).

export interface BenchSettings {
  /** Concurrent callers of the create and end-to-end phases. */
  concurrency: number;
  /** Measured runs per phase; the table shows their median. */
  runs: number;
  /** Creates sent (and not measured) before each phase's first run. */
  warmup: number;
  createCount: number;
  e2eCount: number;
  /** Open-loop rate of the "not saturated" latency run, tasks per second. */
  pacedRate: number;
  pacedSeconds: number;
  drainCount: number;
  drainRuns: number;
  drainPrefetchTotal: number;
  drainWorkMs: number;
  /** Cancels sent during each drain run (spread over its first 20 seconds). */
  cancels: number;
  /** The failing drain: tasks, work per attempt, and the share of attempts that fail (percent). */
  failingCount: number;
  failingWorkMs: number;
  failingPercent: number;
  processors: number;
  /** Create-to-completed latency with one create at a time: how many. */
  unloadedCount: number;
  /** Duration of each wrk (REST, C load generator) run, seconds. */
  wrkSeconds: number;
  /** Tasks per bulk run (BatchCreateTasks), and the batch sizes measured. */
  bulkCount: number;
  bulkSizes: number[];
  /** Tasks of the burst (goal 4), sent in batches of the largest bulk size. */
  burstCount: number;
  /** Redis the BullMQ peer runs on. */
  redisUrl: string;
  /** Phases to run, in this order: limits, peers, create, create-options, e2e, cload, bulk, burst, drain, failing, watch, telemetry. */
  phases: string[];
  /** When set, measure the task-api already running at this URL instead of starting one. */
  target: string | null;
  targetGatewayUrl: string | null;
  targetDatabaseUrl: string | null;
  /** Server the bench makes its own databases on (from .env.dev unless set). */
  baseDatabaseUrl: string;
  amqpUrl: string;
  gatewayPort: number;
  /** BENCH_FROM: the services the bench starts run from the compiled build (default, as the runtime image) or from the sources under tsx. */
  servicesFrom: ServicesFrom;
  /** Settings handed to the services, from .env.dev (the deployed defaults). */
  serviceEnv: Record<string, string>;
  telemetryCount: number;
  telemetrySampleRatio: number;
}

const ENV_DEV = fileURLToPath(new URL('../../.env.dev', import.meta.url));
const PHASES = ['limits', 'peers', 'create', 'create-options', 'e2e', 'cload', 'bulk', 'burst', 'drain', 'failing', 'watch', 'telemetry'];

export function readBenchSettings(env: NodeJS.ProcessEnv = process.env): BenchSettings {
  const dev = readEnvFile(ENV_DEV);
  const int = (name: string, fallback: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw)) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
    return Number(raw);
  };
  const phases = (env.BENCH_PHASES ?? PHASES.join(',')).split(',').map((p) => p.trim()).filter(Boolean);
  for (const phase of phases) if (!PHASES.includes(phase)) throw new Error(`BENCH_PHASES: unknown phase ${phase} (known: ${PHASES.join(', ')})`);
  const target = env.BENCH_TARGET || null;
  if (target && !env.BENCH_DATABASE_URL) throw new Error('BENCH_TARGET needs BENCH_DATABASE_URL (the database that task-api uses) to see tasks complete');
  return {
    concurrency: int('BENCH_CONCURRENCY', 64),
    runs: Math.max(1, int('BENCH_RUNS', 3)),
    warmup: int('BENCH_WARMUP', 1_000),
    // 5,000 per run (the example is 20,000) keeps `make bench` under
    // ten minutes on the 2-core reference machine; raise it on a bigger one.
    createCount: int('BENCH_CREATE_COUNT', 5_000),
    e2eCount: int('BENCH_E2E_COUNT', 5_000),
    pacedRate: int('BENCH_PACED_RATE', 200),
    pacedSeconds: int('BENCH_PACED_SECONDS', 10),
    drainCount: int('BENCH_DRAIN_COUNT', 10_000),
    drainRuns: Math.max(1, int('BENCH_DRAIN_RUNS', 3)),
    drainPrefetchTotal: int('BENCH_DRAIN_PREFETCH_TOTAL', 1_000),
    drainWorkMs: int('BENCH_DRAIN_WORK_MS', 3_000),
    cancels: int('BENCH_CANCELS', 100),
    failingCount: int('BENCH_FAILING_COUNT', 5_000),
    failingWorkMs: int('BENCH_FAILING_WORK_MS', 3_000),
    failingPercent: Math.min(99, int('BENCH_FAILING_PERCENT', 20)),
    unloadedCount: int('BENCH_UNLOADED_COUNT', 300),
    wrkSeconds: Math.max(1, int('BENCH_WRK_SECONDS', 8)),
    bulkCount: int('BENCH_BULK_COUNT', 20_000),
    bulkSizes: (env.BENCH_BULK_SIZES ?? '100,1000').split(',').map((v) => {
      if (!/^\d+$/.test(v.trim()) || Number(v) < 1) throw new Error(`BENCH_BULK_SIZES must be positive integers separated by commas, got ${JSON.stringify(env.BENCH_BULK_SIZES)}`);
      return Number(v);
    }),
    burstCount: int('BENCH_BURST_COUNT', 100_000),
    redisUrl: env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379',
    // Phase "telemetry" (bench/scenarios/telemetry-overhead.ts): tasks per run, tracing off and on.
    telemetryCount: int('BENCH_TELEMETRY_COUNT', 2_000),
    // ...and a third run at this sampling ratio, in percent (0: none).
    telemetrySampleRatio: int('BENCH_TELEMETRY_SAMPLE_PERCENT', 10) / 100,
    processors: Math.max(1, int('BENCH_PROCESSORS', Number(dev.PROCESSOR_REPLICAS ?? 2))),
    phases: PHASES.filter((p) => phases.includes(p)),
    target,
    targetGatewayUrl: env.BENCH_GATEWAY_URL || null,
    targetDatabaseUrl: env.BENCH_DATABASE_URL || null,
    baseDatabaseUrl: env.BENCH_BASE_DATABASE_URL || dev.DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/taskproc',
    amqpUrl: env.BENCH_AMQP_URL || dev.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672',
    gatewayPort: int('BENCH_GATEWAY_PORT', 8080),
    servicesFrom: readServicesFrom(env),
    serviceEnv: dev,
  };
}

/** BENCH_FROM=build (the default) or source. */
export function readServicesFrom(env: NodeJS.ProcessEnv = process.env): ServicesFrom {
  const from = env.BENCH_FROM || 'build';
  if (from !== 'build' && from !== 'source') throw new Error(`BENCH_FROM must be build or source, got ${JSON.stringify(from)}`);
  return from;
}

function readEnvFile(path: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
    // A value with spaces is double-quoted for the shell (NODE_OPTIONS).
    if (match) values[match[1]!] = match[2]!.replace(/^"(.*)"$/, '$1');
  }
  return values;
}
