import { context, trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logging.js';
import { deserializeTraceContext, extractFromHeaders, injectIntoHeaders, serializeTraceContext } from '../src/telemetry/trace-context.js';
import { startTracing, taskprocTracer } from '../src/telemetry/tracing.js';

const logger = createLogger('test', 'silent');
const off = { enabled: false, serviceName: 'test', tracesUrl: '', headers: {}, sampleRatio: 1, disabledInstrumentations: [] };

describe('trace context with tracing off', () => {
  it('starts no SDK, stores nothing and reads every context as the root', async () => {
    const tracing = await startTracing(off, logger);
    expect(tracing.enabled).toBe(false);
    const span = taskprocTracer().startSpan('ignored');
    expect(span.isRecording()).toBe(false);
    expect(serializeTraceContext(trace.setSpan(context.active(), span))).toBeNull();
    expect(injectIntoHeaders({})).toEqual({});
    expect(trace.getSpan(extractFromHeaders({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }))).toBeUndefined();
  });
});

describe('trace context with tracing on', () => {
  const exporter = new InMemorySpanExporter();
  let stop: () => Promise<void> = async () => {};
  afterAll(() => stop());

  it('round-trips through the outbox text and AMQP headers, bytes included', async () => {
    const tracing = await startTracing({ ...off, enabled: true }, logger, { exporter });
    stop = () => tracing.shutdown();
    const span = taskprocTracer().startSpan('create');
    const active = trace.setSpan(context.active(), span);
    const stored = serializeTraceContext(active)!;
    expect(JSON.parse(stored)).toEqual({ traceparent: `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01` });
    expect(trace.getSpanContext(deserializeTraceContext(stored))).toMatchObject({ traceId: span.spanContext().traceId, spanId: span.spanContext().spanId, isRemote: true });
    expect(trace.getSpan(deserializeTraceContext('not json'))).toBeUndefined();
    expect(trace.getSpan(deserializeTraceContext(null))).toBeUndefined();

    const headers = injectIntoHeaders<Record<string, unknown>>({ 'x-other': 1 }, active);
    const asBytes = { traceparent: Buffer.from(String(headers.traceparent)) };
    for (const carrier of [headers, asBytes, new Headers({ traceparent: String(headers.traceparent) })]) {
      expect(trace.getSpanContext(extractFromHeaders(carrier))?.spanId).toBe(span.spanContext().spanId);
    }
    span.end();
  });

  it('log lines inside a span carry its trace and span ids', () => {
    const lines: Record<string, unknown>[] = [];
    const log = createLogger('test', 'info', { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const span = taskprocTracer().startSpan('logged');
    context.with(trace.setSpan(context.active(), span), () => log.info('inside'));
    log.info('outside');
    span.end();
    expect(lines[0]).toMatchObject({ msg: 'inside', trace_id: span.spanContext().traceId, span_id: span.spanContext().spanId });
    expect(lines[1]).not.toHaveProperty('trace_id');
  });
});
