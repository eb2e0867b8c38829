import type { Channel } from 'amqplib';

/**
 * The broker objects of the task pipeline, in one place for the task-api
 * (which publishes) and the processor (which consumes). Declaring them is
 * idempotent, so whichever service starts first creates them.
 *
 * - tasks: a durable quorum queue (replicated, fsync'd, tracks deliveries).
 *   Messages are published to it through the default exchange.
 * - a delivery limit: a message that keeps crashing its consumer is
 *   dead-lettered by the broker instead of looping forever.
 * - dead letters: a fanout exchange and a quorum queue that keep what the
 *   processor set aside (poison messages) and what hit the delivery limit.
 *   "at-least-once" dead-lettering makes the broker keep a message until the
 *   dead-letter queue has confirmed it; it requires overflow "reject-publish".
 */
export interface TaskTopology {
  taskQueue: string;
  taskQueueArguments: Record<string, unknown>;
  deadLetterExchange: string;
  deadLetterQueue: string;
}

export function taskTopology(namespace: string, deliveryLimit: number): TaskTopology {
  const deadLetterExchange = `${namespace}.dead-letter`;
  return {
    taskQueue: `${namespace}.tasks`,
    taskQueueArguments: {
      'x-queue-type': 'quorum',
      'x-delivery-limit': deliveryLimit,
      'x-dead-letter-exchange': deadLetterExchange,
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    },
    deadLetterExchange,
    deadLetterQueue: `${namespace}.tasks.dead-letter`,
  };
}

export async function assertTaskTopology(channel: Channel, topology: TaskTopology): Promise<void> {
  await channel.assertExchange(topology.deadLetterExchange, 'fanout', { durable: true });
  await channel.assertQueue(topology.deadLetterQueue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await channel.bindQueue(topology.deadLetterQueue, topology.deadLetterExchange, '');
  await channel.assertQueue(topology.taskQueue, { durable: true, arguments: topology.taskQueueArguments });
}

/** Removes every queue and exchange of a topology (tests and benchmarks clean up their own namespace). */
export async function deleteTaskTopology(channel: Channel, topology: TaskTopology): Promise<void> {
  await channel.deleteQueue(topology.taskQueue);
  await channel.deleteQueue(topology.deadLetterQueue);
  await channel.deleteExchange(topology.deadLetterExchange);
}

/** Header naming why the processor set a message aside. */
export const DEAD_LETTER_REASON_HEADER = 'x-taskproc-reason';
