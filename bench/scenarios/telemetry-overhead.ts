import { restClient, type TaskClient } from '../lib/clients.js';
import { createBenchDatabase } from '../lib/bench-database.js';
import { Observer } from '../lib/observer.js';
import { fmt, type Row } from '../lib/report.js';
import { median } from '../lib/stats.js';
import { BenchSystem, type ServicesFrom } from '../lib/system.js';
import { measureEndToEnd, type EndToEndRun } from './end-to-end.js';
import { startOtlpReceiver, type OtlpReceiver } from '../../test/telemetry/support/otlp-receiver.js';

// What tracing costs: the system end to end (REST creates through the
// gateway, PROCESSING_DURATION_MS=0) with tracing off, then on, exporting
// every span over OTLP/HTTP to a receiver in this process. The cost per task
// is the CPU time the service processes (task-api, gateway, processors)
// spent per task, and the throughput and latency beside it.

export interface TelemetryOverheadSettings {
  baseDatabaseUrl: string;
  amqpUrl: string;
  serviceEnv: Record<string, string>;
  servicesFrom: ServicesFrom;
  processors: number;
  count: number;
  concurrency: number;
  runs: number;
  /** A third mode with OTEL_TRACES_SAMPLER=parentbased_traceidratio at this ratio (0: none). */
  sampleRatio: number;
  logDir: string;
  suffix: string;
}

export interface TelemetryMode {
  name: string;
  tracing: boolean;
  runs: EndToEndRun[];
  /** CPU seconds of every service process per 1,000 tasks, median run. */
  cpuSecondsPer1000: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  spansPerTask?: number;
  /** CPU seconds per 1,000 tasks by service kind (median run). */
  cpuByService: Record<string, number>;
}

export interface TelemetryOverhead {
  modes: TelemetryMode[];
}

/**
 * One system per mode, all started first; then the runs go round the modes
 * (off, on, sampled, off, on, ...), so a change in the machine's load
 * touches every mode alike instead of the one measured at that moment.
 */
export async function measureTelemetryOverhead(settings: TelemetryOverheadSettings, log: (message: string) => void): Promise<TelemetryOverhead> {
  const wanted: [string, Record<string, string>][] = [['off', {}], ['on', {}], ['on, no pg spans', { OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'pg' }]];
  if (settings.sampleRatio > 0) {
    wanted.push([`on, ${settings.sampleRatio * 100}% sampled`, { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: String(settings.sampleRatio) }]);
  }
  const modes: ModeSystem[] = [];
  try {
    for (const [name, env] of wanted) modes.push(await startMode(settings, name, env, log));
    log(`telemetry overhead: ${settings.runs} x ${settings.count} REST creates per mode, ${settings.concurrency} callers, modes in turn`);
    const shape = { count: settings.count, concurrency: settings.concurrency, runs: 1 };
    // A warm-up each, so every mode is measured on warm processes.
    for (const mode of modes) await measureEndToEnd(mode.client, mode.observer, mode.system.services(), { ...shape, count: Math.min(500, settings.count) });
    for (const mode of modes) mode.spansBefore = mode.receiver?.spanCount ?? 0;
    for (let run = 0; run < settings.runs; run++) {
      for (const mode of modes) {
        log(`  run ${run + 1}, tracing ${mode.name}`);
        mode.runs.push(...(await measureEndToEnd(mode.client, mode.observer, mode.system.services(), shape)));
      }
    }
  } finally {
    for (const mode of modes) await mode.close().catch(() => undefined);
  }
  return { modes: modes.map(summarize) };
}

interface ModeSystem {
  name: string;
  receiver: OtlpReceiver | null;
  system: BenchSystem;
  client: TaskClient;
  observer: Observer;
  runs: EndToEndRun[];
  spansBefore: number;
  close(): Promise<void>;
}

async function startMode(settings: TelemetryOverheadSettings, name: string, extraEnv: Record<string, string>, log: (message: string) => void): Promise<ModeSystem> {
  const tracing = name !== 'off';
  const slug = name.replace(/\W+/g, '_');
  const receiver = tracing ? await startOtlpReceiver({ keepSpans: false }) : null;
  const db = await createBenchDatabase(settings.baseDatabaseUrl, `taskproc_bench_telemetry_${slug}_${settings.suffix}`);
  log(`telemetry overhead: starting a system with tracing ${tracing ? `${name} (OTLP to ${receiver!.url})` : 'off'}`);
  let system: BenchSystem;
  try {
    system = await BenchSystem.start(
      {
        serviceEnv: { ...settings.serviceEnv, ...extraEnv, OTEL_EXPORTER_OTLP_ENDPOINT: receiver?.url ?? '' },
        databaseUrl: db.url,
        amqpUrl: settings.amqpUrl,
        namespace: `taskproc-bench.telemetry-${slug}.${settings.suffix}`,
        gatewayPort: 0,
        logDir: `${settings.logDir}/telemetry-${slug}`,
        from: settings.servicesFrom,
      },
      { PROCESSING_DURATION_MS: '0' },
      settings.processors,
    );
  } catch (error) {
    await receiver?.close();
    await db.drop();
    throw error;
  }
  const client = restClient(system.gatewayUrl, settings.concurrency);
  return {
    name,
    receiver,
    system,
    client,
    observer: new Observer(db),
    runs: [],
    spansBefore: 0,
    async close() {
      client.close();
      await system.close().catch(() => undefined); // a graceful stop exports the spans still buffered
      await receiver?.close();
      await db.drop();
    },
  };
}

function summarize(mode: ModeSystem): TelemetryMode {
  const { runs, receiver } = mode;
  const tasks = runs.reduce((n, r) => n + r.count, 0);
  const cpu = runs.map((r) => r.cost.reduce((sum, c) => sum + c.cpuSecondsPer1000, 0));
  const kindOf = (service: string) => service.replace(/-\d+$/, '');
  const kinds = [...new Set(runs[0]!.cost.map((c) => kindOf(c.service)))];
  const cpuByService = Object.fromEntries(
    kinds.map((kind) => [kind, median(runs.map((r) => r.cost.filter((c) => kindOf(c.service) === kind).reduce((sum, c) => sum + c.cpuSecondsPer1000, 0)))]),
  );
  return {
    name: mode.name,
    tracing: receiver !== null,
    cpuByService,
    runs,
    cpuSecondsPer1000: median(cpu),
    perSecond: median(runs.map((r) => r.perSecond)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    // Spans exported after the last run's end are counted too (the graceful stop flushes them).
    ...(receiver ? { spansPerTask: (receiver.spanCount - mode.spansBefore) / tasks } : {}),
  };
}

export function telemetryOverheadRows(t: TelemetryOverhead): Row[] {
  const [off, ...traced] = t.modes;
  const value = (m: TelemetryMode) => `${fmt.rate(m.perSecond)}, p50 / p99 ${fmt.ms(m.p50Ms)} / ${fmt.ms(m.p99Ms)}, CPU ${m.cpuSecondsPer1000.toFixed(2)} s per 1,000 tasks`;
  const rows: Row[] = [{ figure: 'end-to-end over REST, tracing off', value: value(off!) }];
  for (const m of traced) {
    const spans = m.spansPerTask === undefined ? '' : ` (${m.spansPerTask.toFixed(1)} spans per task to OTLP)`;
    rows.push({ figure: `end-to-end over REST, tracing ${m.name}${spans}`, value: value(m), ratio: `${fmt.ratio(m.perSecond / off!.perSecond)} of off` });
    const extra = (a: number, b: number) => `${Math.round(((a - b) / 1000) * 1e6)} µs`;
    const byService = Object.keys(m.cpuByService).map((kind) => `${kind} ${extra(m.cpuByService[kind]!, off!.cpuByService[kind] ?? 0)}`).join(', ');
    rows.push({ figure: `tracing ${m.name}: extra CPU per task`, value: `${extra(m.cpuSecondsPer1000, off!.cpuSecondsPer1000)} (${byService})` });
  }
  return rows;
}
