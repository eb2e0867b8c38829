import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import { DEAD_LETTER_REASON_HEADER, type TaskTopology } from '@taskproc/core';

/**
 * The suite's own connection to the broker: to publish what the scenarios
 * inject (duplicate copies, poison messages) with publisher confirms, and to
 * read queue depths and dead letters at the end.
 */
export class Broker {
  private constructor(
    private readonly connection: ChannelModel,
    private readonly channel: ConfirmChannel,
    readonly topology: TaskTopology,
  ) {}

  static async connect(url: string, topology: TaskTopology): Promise<Broker> {
    const connection = await amqp.connect(url);
    connection.on('error', () => undefined);
    const channel = await connection.createConfirmChannel();
    channel.on('error', () => undefined);
    return new Broker(connection, channel, topology);
  }

  /** Publishes a body to the task queue, as the outbox relay does, and waits for the broker's confirm. */
  async publishToTaskQueue(body: Buffer, options: { messageId?: string; headers?: Record<string, unknown>; contentType?: string } = {}): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.channel.sendToQueue(
        this.topology.taskQueue,
        body,
        { persistent: true, contentType: options.contentType ?? 'application/json', messageId: options.messageId, headers: options.headers },
        (error) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve()),
      );
    });
  }

  /** Messages ready in a queue (consumers hold none once the services have stopped). */
  async depth(queue: string): Promise<number> {
    const channel = await this.connection.createChannel();
    channel.on('error', () => undefined);
    try {
      return (await channel.checkQueue(queue)).messageCount;
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  /** Whether a queue exists (a passive declare that fails means no). */
  async exists(queue: string): Promise<boolean> {
    return this.depth(queue).then(
      () => true,
      () => false,
    );
  }

  /** Deletes a queue with whatever it holds, as an operator's mistake or a broker-side policy would. Returns the messages it held. */
  async deleteQueue(queue: string): Promise<number> {
    const channel = await this.connection.createChannel();
    channel.on('error', () => undefined);
    try {
      return (await channel.deleteQueue(queue)).messageCount;
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  /**
   * Reads (and requeues) every dead letter: the processor's reason header
   * (null when the processor did not set the message aside itself) and the
   * broker's own reason (`delivery_limit`, …) when the broker dead-lettered it.
   */
  async deadLetters(): Promise<{ reason: string | null; brokerReason: string | null }[]> {
    const channel = await this.connection.createChannel();
    channel.on('error', () => undefined);
    const letters: { reason: string | null; brokerReason: string | null }[] = [];
    try {
      for (;;) {
        const message = await channel.get(this.topology.deadLetterQueue, { noAck: false });
        if (message === false) break;
        const headers = message.properties.headers ?? {};
        const reason = headers[DEAD_LETTER_REASON_HEADER];
        const brokerReason = headers['x-first-death-reason'];
        letters.push({ reason: reason === undefined ? null : String(reason), brokerReason: brokerReason === undefined ? null : String(brokerReason) });
      }
    } finally {
      // Closing the channel returns the unacknowledged messages to the queue.
      await channel.close().catch(() => undefined);
    }
    return letters;
  }

  async close(): Promise<void> {
    await this.connection.close().catch(() => undefined);
  }
}
