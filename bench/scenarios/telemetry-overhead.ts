import { restClient } from '../lib/clients.js';
import { createBenchDatabase } from '../lib/bench-database.js';
import { Observer } from '../lib/observer.js';
import { fmt, type Row } from '../lib/report.js';
import { median } from '../lib/stats.js';
import { BenchSystem } from '../lib/system.js';
import { measureEndToEnd, type EndToEndRun } from './end-to-end.js';
import { startOtlpReceiver } from '../../test/telemetry/support/otlp-receiver.js';

// What tracing costs: the system end to end (REST creates through the
// gateway, PROCESSING_DURATION_MS=0) with tracing off, then on, exporting
// every span over OTLP/HTTP to a receiver in this process. The cost per task
// is the CPU time the service processes (task-api, gateway, processors)
// spent per task, and the throughput and latency beside it.

export interface TelemetryOverheadSettings {
  baseDatabaseUrl: string;
  amqpUrl: string;
  serviceEnv: Record<string, string>;
  processors: number;
  count: number;
  concurrency: number;
  runs: number;
  logDir: string;
  suffix: string;
}

export interface TelemetryMode {
  tracing: boolean;
  runs: EndToEndRun[];
  /** CPU seconds of every service process per 1,000 tasks, median run. */
  cpuSecondsPer1000: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  spansPerTask?: number;
}

export interface TelemetryOverhead {
  off: TelemetryMode;
  on: TelemetryMode;
  /** Extra CPU per task with tracing on, in microseconds (all services together). */
  extraCpuMicrosPerTask: number;
}

export async function measureTelemetryOverhead(settings: TelemetryOverheadSettings, log: (message: string) => void): Promise<TelemetryOverhead> {
  const off = await measureMode(settings, false, log);
  const on = await measureMode(settings, true, log);
  return { off, on, extraCpuMicrosPerTask: ((on.cpuSecondsPer1000 - off.cpuSecondsPer1000) / 1000) * 1e6 };
}

async function measureMode(settings: TelemetryOverheadSettings, tracing: boolean, log: (message: string) => void): Promise<TelemetryMode> {
  const receiver = tracing ? await startOtlpReceiver({ keepSpans: false }) : null;
  const db = await createBenchDatabase(settings.baseDatabaseUrl, `taskproc_bench_telemetry_${tracing ? 'on' : 'off'}_${settings.suffix}`);
  let system: BenchSystem | null = null;
  try {
    log(`telemetry overhead: tracing ${tracing ? `on (OTLP to ${receiver!.url})` : 'off'}, ${settings.runs} x ${settings.count} REST creates, ${settings.concurrency} callers`);
    system = await BenchSystem.start(
      {
        serviceEnv: { ...settings.serviceEnv, OTEL_EXPORTER_OTLP_ENDPOINT: receiver?.url ?? '' },
        databaseUrl: db.url,
        amqpUrl: settings.amqpUrl,
        namespace: `taskproc-bench.telemetry-${tracing ? 'on' : 'off'}.${settings.suffix}`,
        gatewayPort: 0,
        logDir: `${settings.logDir}/telemetry-${tracing ? 'on' : 'off'}`,
      },
      { PROCESSING_DURATION_MS: '0' },
      settings.processors,
    );
    const client = restClient(system.gatewayUrl, settings.concurrency);
    const observer = new Observer(db);
    // A warm-up, so both modes are measured on warm processes.
    await measureEndToEnd(client, observer, system.services(), { count: Math.min(500, settings.count), concurrency: settings.concurrency, runs: 1 });
    const spansBefore = receiver?.spanCount ?? 0;
    const runs = await measureEndToEnd(client, observer, system.services(), { count: settings.count, concurrency: settings.concurrency, runs: settings.runs });
    client.close();
    const tasks = runs.reduce((n, r) => n + r.count, 0);
    await system.close(); // a graceful stop exports the spans still buffered
    system = null;
    const cpu = runs.map((r) => r.cost.reduce((sum, c) => sum + c.cpuSecondsPer1000, 0));
    return {
      tracing,
      runs,
      cpuSecondsPer1000: median(cpu),
      perSecond: median(runs.map((r) => r.perSecond)),
      p50Ms: median(runs.map((r) => r.p50Ms)),
      p99Ms: median(runs.map((r) => r.p99Ms)),
      ...(receiver ? { spansPerTask: (receiver.spanCount - spansBefore) / tasks } : {}),
    };
  } finally {
    await system?.close().catch(() => undefined);
    await receiver?.close();
    await db.drop();
  }
}

export function telemetryOverheadRows(t: TelemetryOverhead): Row[] {
  const mode = (m: TelemetryMode) => `${fmt.rate(m.perSecond)}, p50 / p99 ${fmt.ms(m.p50Ms)} / ${fmt.ms(m.p99Ms)}, CPU ${m.cpuSecondsPer1000.toFixed(2)} s per 1,000 tasks`;
  return [
    { figure: 'end-to-end over REST, tracing off', value: mode(t.off) },
    { figure: `end-to-end over REST, tracing on (${t.on.spansPerTask?.toFixed(1)} spans per task to OTLP)`, value: mode(t.on), ratio: `${fmt.ratio(t.on.perSecond / t.off.perSecond)} of off` },
    { figure: 'tracing cost per task (CPU, all services)', value: `${Math.round(t.extraCpuMicrosPerTask)} µs` },
  ];
}
