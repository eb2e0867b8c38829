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

export async function measureTelemetryOverhead(settings: TelemetryOverheadSettings, log: (message: string) => void): Promise<TelemetryOverhead> {
  const modes = [await measureMode(settings, 'off', {}, log), await measureMode(settings, 'on', {}, log)];
  if (settings.sampleRatio > 0) {
    const sampled = { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: String(settings.sampleRatio) };
    modes.push(await measureMode(settings, `on, ${settings.sampleRatio * 100}% sampled`, sampled, log));
  }
  return { modes };
}

async function measureMode(settings: TelemetryOverheadSettings, name: string, extraEnv: Record<string, string>, log: (message: string) => void): Promise<TelemetryMode> {
  const tracing = name !== 'off';
  const slug = name.replace(/\W+/g, '_');
  const receiver = tracing ? await startOtlpReceiver({ keepSpans: false }) : null;
  const db = await createBenchDatabase(settings.baseDatabaseUrl, `taskproc_bench_telemetry_${slug}_${settings.suffix}`);
  let system: BenchSystem | null = null;
  try {
    log(`telemetry overhead: tracing ${tracing ? `${name} (OTLP to ${receiver!.url})` : 'off'}, ${settings.runs} x ${settings.count} REST creates, ${settings.concurrency} callers`);
    system = await BenchSystem.start(
      {
        serviceEnv: { ...settings.serviceEnv, ...extraEnv, OTEL_EXPORTER_OTLP_ENDPOINT: receiver?.url ?? '' },
        databaseUrl: db.url,
        amqpUrl: settings.amqpUrl,
        namespace: `taskproc-bench.telemetry-${slug}.${settings.suffix}`,
        gatewayPort: 0,
        logDir: `${settings.logDir}/telemetry-${slug}`,
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
    const kinds = [...new Set(runs[0]!.cost.map((c) => c.service.replace(/-\d+$/, '')))];
    const cpuByService = Object.fromEntries(
      kinds.map((kind) => [kind, median(runs.map((r) => r.cost.filter((c) => c.service.replace(/-\d+$/, '') === kind).reduce((sum, c) => sum + c.cpuSecondsPer1000, 0)))]),
    );
    return {
      name,
      tracing,
      cpuByService,
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
