import { ROOT_CONTEXT as ROOT, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { deserializeTraceContext, injectIntoHeaders, taskprocTracer } from '@taskproc/core';
import { Counter, Histogram, type Registry } from 'prom-client';

/** An outbox entry as the relay took it. */
export interface TakenEntry {
  task_id: string;
  trace_context: string | null;
  /** When the entry was written, in epoch milliseconds (the database's clock). */
  created_ms: number;
}

/** What the relay reports about one batch, in order: headers per message, sent, then confirmed or failed. */
export interface BatchTelemetry {
  /** AMQP headers for the i-th message (the W3C trace context of its publish span), or undefined. */
  headers(index: number): Record<string, unknown> | undefined;
  sent(): void;
  confirmed(): void;
  failed(error: unknown): void;
}

export interface RelayTelemetry {
  batch(queue: string, entries: readonly TakenEntry[]): BatchTelemetry;
}

const NO_BATCH: BatchTelemetry = { headers: () => undefined, sent() {}, confirmed() {}, failed() {} };
export const NO_RELAY_TELEMETRY: RelayTelemetry = { batch: () => NO_BATCH };

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The relay's metrics (publish and confirm latency, messages published and
 * failed) and, with tracing on, one `publish` span per message: a child of
 * the create that wrote the entry (its context is stored in the outbox row),
 * ended at the broker's confirm, and sent on in the message's headers so the
 * processor's spans continue the same trace.
 */
export function relayTelemetry(registry: Registry, options: { tracing: boolean }): RelayTelemetry {
  const published = new Counter({
    name: 'taskproc_outbox_published_total',
    help: 'Outbox entries published to the broker and confirmed by it.',
    registers: [registry],
  });
  const failedMessages = new Counter({
    name: 'taskproc_outbox_publish_failures_total',
    help: 'Outbox entries whose publish was not confirmed (they stay in the outbox and are published again).',
    registers: [registry],
  });
  const confirmDuration = new Histogram({
    name: 'taskproc_outbox_confirm_duration_seconds',
    help: 'Time from sending a batch of messages to the broker to its confirms.',
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const publishDelay = new Histogram({
    name: 'taskproc_outbox_publish_delay_seconds',
    help: 'Time from an outbox entry being written (the create commit) to the broker confirming its message.',
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const batchSize = new Histogram({
    name: 'taskproc_outbox_batch_size',
    help: 'Messages per relay batch (one transaction, one wait for confirms).',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
    registers: [registry],
  });
  const tracer = taskprocTracer();

  return {
    batch(queue, entries) {
      let sentAt = 0;
      const spans: Span[] = options.tracing
        ? entries.map((entry) =>
            tracer.startSpan(
              `publish ${queue}`,
              {
                kind: SpanKind.PRODUCER,
                attributes: {
                  'messaging.system': 'rabbitmq',
                  'messaging.operation.type': 'send',
                  'messaging.operation.name': 'publish',
                  'messaging.destination.name': queue,
                  'messaging.message.id': entry.task_id,
                  'messaging.batch.message_count': entries.length,
                  'taskproc.task.id': entry.task_id,
                },
              },
              deserializeTraceContext(entry.trace_context),
            ),
          )
        : [];
      return {
        headers(index) {
          const span = spans[index];
          if (!span) return undefined;
          return injectIntoHeaders({}, trace.setSpan(ROOT, span));
        },
        sent() {
          sentAt = performance.now();
          batchSize.observe(entries.length);
        },
        confirmed() {
          const now = Date.now();
          confirmDuration.observe((performance.now() - sentAt) / 1000);
          published.inc(entries.length);
          for (const entry of entries) publishDelay.observe(Math.max(0, now - Number(entry.created_ms)) / 1000);
          for (const span of spans) span.end();
        },
        failed(error) {
          failedMessages.inc(entries.length);
          for (const span of spans) {
            span.recordException(error instanceof Error ? error : String(error));
            span.setStatus({ code: SpanStatusCode.ERROR, message: 'not confirmed by the broker' });
            span.end();
          }
        },
      };
    },
  };
}
