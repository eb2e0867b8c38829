import { context, propagation, trace, type Tracer } from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { Logger } from '../logging.js';
import type { TracingConfig } from './telemetry-config.js';

/** The tracer every taskproc span comes from (a no-op until startTracing registers an SDK). */
export function taskprocTracer(): Tracer {
  return trace.getTracer('taskproc');
}

export interface Tracing {
  readonly enabled: boolean;
  /** Exports what is buffered and stops the SDK (once the last service of the process stops). */
  shutdown(): Promise<void>;
}

export interface StartTracingOptions {
  /** Replaces the OTLP exporter (tests: the SDK's InMemorySpanExporter). */
  exporter?: SpanExporter;
  /** Whether this service talks to PostgreSQL (the gateway does not): only then is pg instrumented. */
  database?: boolean;
}

const DISABLED: Tracing = { enabled: false, shutdown: async () => {} };

// Services started in one process (tests, a combined binary) share one SDK:
// the API's globals can be registered once only (the first start's options
// decide, e.g. whether pg is instrumented).
let shared: { users: number; shutdown: () => Promise<void> } | null = null;

/**
 * Starts the OpenTelemetry SDK when the configuration enables tracing: a
 * tracer provider with a batching OTLP/HTTP exporter, W3C trace context
 * propagation and an AsyncLocalStorage context manager, registered as the
 * API's globals. When tracing is off nothing is loaded (the SDK packages are
 * imported only here, on demand), and every tracing call elsewhere stays the
 * API's no-op.
 */
export async function startTracing(config: TracingConfig, logger: Logger, options: StartTracingOptions = {}): Promise<Tracing> {
  if (!config.enabled && !options.exporter) return DISABLED;
  if (!shared) {
    const [{ BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider }, { resourceFromAttributes }, { W3CTraceContextPropagator }, { AsyncLocalStorageContextManager }] =
      await Promise.all([
        import('@opentelemetry/sdk-trace'),
        import('@opentelemetry/resources'),
        import('@opentelemetry/core'),
        import('@opentelemetry/context-async-hooks'),
      ]);
    const exporter =
      options.exporter ??
      new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter({
        url: config.tracesUrl,
        headers: config.headers,
        // Bounded: an unreachable collector costs dropped spans, never a blocked service.
        timeoutMillis: 10_000,
      });
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': config.serviceName, 'service.namespace': 'taskproc' }),
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sampleRatio) }),
      // Bounded buffer: spans beyond it are dropped rather than held in memory.
      spanProcessors: [new BatchSpanProcessor({ exporter, maxQueueSize: 8192, maxExportBatchSize: 512, scheduledDelayMillis: 1_000 })],
    });
    const contextManager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(contextManager);
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(provider);
    const instrumentations =
      options.database === false || config.disabledInstrumentations.includes('pg') ? { disable() {} } : await instrumentDatabaseClient();
    shared = {
      users: 0,
      shutdown: async () => {
        instrumentations.disable();
        await provider.shutdown().catch((error: unknown) => logger.warn({ err: error }, 'exporting the last spans failed'));
        trace.disable();
        propagation.disable();
        context.disable();
      },
    };
    logger.info({ tracesUrl: config.tracesUrl || '(custom exporter)', serviceName: config.serviceName }, 'tracing on: exporting spans over OTLP');
  }
  const current = shared;
  current.users += 1;
  let stopped = false;
  return {
    enabled: true,
    async shutdown() {
      if (stopped) return;
      stopped = true;
      current.users -= 1;
      if (current.users === 0 && shared === current) {
        shared = null;
        await current.shutdown();
      }
    },
  };
}

/**
 * The official PostgreSQL instrumentation: a span per statement of node-postgres
 * (MikroORM's and knex's driver), inside a trace only (the relay's polls and
 * the listener's pings start none; no pool-connect spans). Its hook patches `pg` when it is next
 * required; in this ESM setup every require of pg happens through MikroORM's
 * knex (CommonJS) when the ORM connects, after this runs, and the patch is on
 * the shared Client prototype, so the processor's LISTEN client is covered
 * too. (amqplib is imported from ESM here, which the require hook cannot see
 * without a loader (--import) hook; the publish and process spans are made
 * explicitly instead, see relay-telemetry.ts and message-tracing.ts.)
 */
async function instrumentDatabaseClient(): Promise<{ disable(): void }> {
  const [{ registerInstrumentations }, { PgInstrumentation }] = await Promise.all([
    import('@opentelemetry/instrumentation'),
    import('@opentelemetry/instrumentation-pg'),
  ]);
  const disable = registerInstrumentations({ instrumentations: [new PgInstrumentation({ requireParentSpan: true, ignoreConnectSpans: true })] });
  return { disable };
}
