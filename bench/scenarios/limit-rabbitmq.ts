import amqp from 'amqplib';
import { taskTopology, assertTaskTopology } from '@taskproc/core';
import { deleteNamespace } from '../lib/system.js';

export interface RabbitLimit {
  /** Messages per second, from the first publish to the last ack. */
  messagesPerSecond: number;
  count: number;
  consumers: number;
  prefetch: number;
}

// Confirms outstanding at once: enough to keep the broker's pipeline full
// without letting the client buffer grow without bound.
const PUBLISH_WINDOW = 2_000;

/**
 * Limit 6b: RabbitMQ alone, with plain amqplib: persistent messages published
 * on a confirm channel to a quorum queue declared exactly like the task queue,
 * consumed by `consumers` channels with the processors' prefetch, each message
 * acked on its own.
 */
export async function measureRabbitLimit(amqpUrl: string, namespace: string, deliveryLimit: number, count: number, consumers: number, prefetch: number): Promise<RabbitLimit> {
  const topology = taskTopology(namespace, deliveryLimit);
  const publisherConnection = await amqp.connect(amqpUrl);
  const consumerConnection = await amqp.connect(amqpUrl);
  try {
    const publisher = await publisherConnection.createConfirmChannel();
    await assertTaskTopology(publisher, topology);
    const body = Buffer.from(JSON.stringify({ task_id: '00000000-0000-7000-8000-000000000000' }));

    const run = async (n: number): Promise<number> => {
      let consumed = 0;
      let allConsumed!: () => void;
      const done = new Promise<void>((resolve) => (allConsumed = resolve));
      const channels = await Promise.all(Array.from({ length: consumers }, () => consumerConnection.createChannel()));
      const tags: string[] = [];
      for (const channel of channels) {
        await channel.prefetch(prefetch);
        const { consumerTag } = await channel.consume(topology.taskQueue, (message) => {
          if (!message) return;
          channel.ack(message);
          if (++consumed === n) allConsumed();
        });
        tags.push(consumerTag);
      }
      const started = performance.now();
      let outstanding = 0;
      let windowOpen: (() => void) | null = null;
      for (let i = 0; i < n; i++) {
        while (outstanding >= PUBLISH_WINDOW) await new Promise<void>((resolve) => (windowOpen = resolve));
        outstanding++;
        const accepted = publisher.sendToQueue(topology.taskQueue, body, { persistent: true, contentType: 'application/json' }, (error) => {
          if (error) throw new Error('rabbitmq limit: a publish was nacked');
          outstanding--;
          windowOpen?.();
          windowOpen = null;
        });
        if (!accepted) await new Promise((resolve) => publisher.once('drain', resolve));
      }
      await publisher.waitForConfirms();
      await done;
      const elapsed = performance.now() - started;
      await Promise.all(channels.map((c, i) => c.cancel(tags[i]!).then(() => c.close())));
      return elapsed;
    };

    await run(Math.min(2_000, count)); // warm-up
    const elapsedMs = await run(count);
    return { messagesPerSecond: (count * 1000) / elapsedMs, count, consumers, prefetch };
  } finally {
    await consumerConnection.close().catch(() => {});
    await publisherConnection.close().catch(() => {});
    await deleteNamespace(amqpUrl, namespace, deliveryLimit).catch(() => {});
  }
}
