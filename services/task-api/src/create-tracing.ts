import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { serializeTraceContext, taskprocTracer } from '@taskproc/core';
import type { CreateTask } from './group-commit.js';

/**
 * With tracing on, each create gets a span for its insert (task row and
 * outbox entry, one group-committed statement), a child of the CreateTask
 * RPC's span, and that span's context is stored with the outbox entry: the
 * relay's publish, in another transaction and maybe another process,
 * continues the trace from there. With tracing off the create is unchanged.
 */
export function tracedCreate(create: CreateTask, options: { tracing: boolean }): CreateTask {
  if (!options.tracing) return create;
  const tracer = taskprocTracer();
  return (item, signal) =>
    tracer.startActiveSpan(
      'insert task and outbox entry',
      { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'postgresql', 'db.operation.name': 'INSERT', 'db.collection.name': 'task, outbox' } },
      async (span) => {
        try {
          const outcome = await create({ ...item, traceContext: serializeTraceContext() }, signal);
          if (outcome.kind !== 'conflict') span.setAttribute('taskproc.task.id', outcome.task.id);
          span.setAttribute('taskproc.create.outcome', outcome.kind);
          return outcome;
        } catch (error) {
          span.recordException(error instanceof Error ? error : String(error));
          span.setStatus({ code: SpanStatusCode.ERROR });
          throw error;
        } finally {
          span.end();
        }
      },
    );
}
