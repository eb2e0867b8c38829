import type { TaskStore } from '@taskproc/core';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ProcessorEvents } from '../events.js';
import type { DeadLetterFn } from '../tasks/task-runner.js';

// Reasons the processor sets a message aside, as bounded label values; any
// reason not listed here (a future one) is counted as "other".
const DEAD_LETTER_REASONS: Record<string, string> = {
  'no task has this id': 'unknown_task',
  'body is not JSON': 'malformed_body',
  'body has no task_id UUID': 'malformed_body',
};

export interface ProcessorMetricsSources {
  events: ProcessorEvents;
  store: Pick<TaskStore, 'findInAnyTenant'>;
  prefetch: number;
  inFlight(): number;
}

/**
 * The processor's queue-side metrics, observed from its boundaries: the
 * events it reports (settlements, aborts), the dead-letter function it is
 * handed, and the consumer's in-flight count read on each scrape. Task
 * counts come from the store's observer (taskStoreMetrics).
 */
export function processorMetrics(registry: Registry, sources: ProcessorMetricsSources): { countDeadLetters(deadLetter: DeadLetterFn): DeadLetterFn } {
  const settled = new Counter({
    name: 'taskproc_messages_settled_total',
    help: 'Task messages this processor disposed of, by outcome (completed, canceled, duplicate, dead-lettered, returned).',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const deadLettered = new Counter({
    name: 'taskproc_messages_dead_lettered_total',
    help: 'Messages this processor set aside in the dead-letter queue, by reason.',
    labelNames: ['reason'],
    registers: [registry],
  });
  new Gauge({
    name: 'taskproc_consumer_prefetch_limit',
    help: 'Unacknowledged messages the broker may hand this processor at once (PROCESSOR_PREFETCH).',
    registers: [registry],
    collect() {
      this.set(sources.prefetch);
    },
  });
  new Gauge({
    name: 'taskproc_consumer_messages_in_flight',
    help: 'Messages delivered to this processor and not yet acknowledged: the part of the prefetch in use.',
    registers: [registry],
    collect() {
      this.set(sources.inFlight());
    },
  });
  const cancelToAbort = new Histogram({
    name: 'taskproc_cancel_to_abort_seconds',
    help: "Time from a cancel's commit (the task's updated_at, database clock) to this processor aborting the task's work.",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const aborted = new Counter({
    name: 'taskproc_work_aborted_total',
    help: 'Work this processor aborted, by reason (canceled, channel-lost, shutdown).',
    labelNames: ['reason'],
    registers: [registry],
  });

  sources.events.on('settled', ({ outcome }) => settled.inc({ outcome }));
  sources.events.on('aborted', ({ taskId, reason }) => {
    aborted.inc({ reason });
    if (reason !== 'canceled') return;
    const abortedAt = Date.now();
    // One read per canceled task in hand (cancels are rare), off the message's path.
    sources.store.findInAnyTenant(taskId).then(
      (task) => {
        if (task?.status === 'canceled' && task.updatedAt) cancelToAbort.observe(Math.max(0, abortedAt - Date.parse(task.updatedAt)) / 1000);
      },
      () => undefined,
    );
  });

  return {
    countDeadLetters: (deadLetter) => async (message, reason) => {
      await deadLetter(message, reason);
      deadLettered.inc({ reason: DEAD_LETTER_REASONS[reason] ?? 'other' });
    },
  };
}
