import type { ConsumeMessage } from 'amqplib';
import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { extractFromHeaders, taskprocTracer } from '@taskproc/core';
import type { TaskSteps } from '../tasks/batched-steps.js';
import type { DeadLetterFn, HandledMessage } from '../tasks/task-runner.js';

type Handle = (message: ConsumeMessage, deadLetter: DeadLetterFn) => Promise<HandledMessage>;

/**
 * With tracing on, each message is handled inside a `process <queue>` span
 * (kind CONSUMER) whose parent is the relay's publish span, read from the
 * W3C trace context in the message headers: the broker hop stays in the
 * task's trace. The claim, the work and the completion are its children
 * (tracedSteps, workSpan). With tracing off `handle` is returned as it is.
 */
export function tracedHandler(handle: Handle, options: { tracing: boolean; queue: string }): Handle {
  if (!options.tracing) return handle;
  const tracer = taskprocTracer();
  return (message, deadLetter) => {
    const parent = extractFromHeaders(message.properties.headers as Record<string, unknown> | undefined);
    const span = tracer.startSpan(
      `process ${options.queue}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.system': 'rabbitmq',
          'messaging.operation.type': 'process',
          'messaging.operation.name': 'process',
          'messaging.destination.name': options.queue,
          'messaging.message.id': String(message.properties.messageId ?? ''),
          'messaging.rabbitmq.redelivered': message.fields.redelivered,
          'messaging.message.delivery_count': Number(message.properties.headers?.['x-delivery-count'] ?? 0),
        },
      },
      parent,
    );
    return context.with(trace.setSpan(parent, span), async () => {
      try {
        const handled = await handle(message, deadLetter);
        if (handled.taskId) span.setAttribute('taskproc.task.id', handled.taskId);
        span.setAttribute('taskproc.outcome', handled.outcome);
        if (handled.outcome === 'dead-lettered') span.setStatus({ code: SpanStatusCode.ERROR, message: 'set aside in the dead-letter queue' });
        return handled;
      } catch (error) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw error;
      } finally {
        span.end();
      }
    });
  };
}

/** The runner's database steps with a span each (the claim and the completion are guarded UPDATEs). */
export function tracedSteps(steps: TaskSteps, options: { tracing: boolean }): TaskSteps {
  if (!options.tracing) return steps;
  const tracer = taskprocTracer();
  const inSpan = <T>(name: string, attributes: Record<string, string | number>, run: (span: Span) => Promise<T>) =>
    tracer.startActiveSpan(name, { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'postgresql', 'db.operation.name': 'UPDATE', 'db.collection.name': 'task', ...attributes } }, async (span) => {
      try {
        return await run(span);
      } catch (error) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw error;
      } finally {
        span.end();
      }
    });
  return {
    claim: (id, claimOptions) =>
      inSpan('claim task', { 'taskproc.task.id': id }, async (span) => {
        const claim = await steps.claim(id, claimOptions);
        span.setAttribute('taskproc.claimed', claim !== null);
        if (claim) span.setAttribute('taskproc.task.attempt', claim.attempt);
        return claim;
      }),
    completeIfHeld: (id, attempt) =>
      inSpan('complete task', { 'taskproc.task.id': id, 'taskproc.task.attempt': attempt }, async (span) => {
        const completed = await steps.completeIfHeld(id, attempt);
        span.setAttribute('taskproc.completed', completed);
        return completed;
      }),
    retryLaterIfHeld: (...args) =>
      inSpan('record failed attempt', { 'taskproc.task.id': args[0] }, () => steps.retryLaterIfHeld(...args)),
    failIfHeld: (...args) => inSpan('fail task', { 'taskproc.task.id': args[0] }, () => steps.failIfHeld(...args)),
    exists: (id) => steps.exists(id),
  };
}

/**
 * Runs a task's work inside a `work` span, so the work (a handler) finds it
 * as the active span in its context and its own spans and log lines join the
 * task's trace. A cancel or another abort ends the span with the reason.
 */
export function workSpan<T>(taskId: string, attempt: number, work: () => Promise<T>): Promise<T> {
  if (!trace.getActiveSpan()) return work(); // tracing off, or a message without a trace
  return taskprocTracer().startActiveSpan('work', { attributes: { 'taskproc.task.id': taskId, 'taskproc.task.attempt': attempt } }, async (span) => {
    try {
      return await work();
    } catch (error) {
      span.addEvent('aborted', { reason: error instanceof Error ? error.message : String(error) });
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}
