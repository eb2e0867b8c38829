import { hostname } from 'node:os';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import {
  assertTaskTopology,
  backoffDelay,
  closeBrokerConnection,
  connectToBroker,
  sleep,
  type Logger,
  type TaskTopology,
} from '@taskproc/core';
import type { ProcessorEvents } from '../events.js';
import type { DeadLetterFn, HandledMessage } from '../tasks/task-runner.js';
import { AckBatcher } from './ack-batcher.js';
import { createDeadLetterPublisher } from './dead-letter.js';

/** AMQP reply code of a declaration whose arguments differ from the existing queue's. */
const PRECONDITION_FAILED = 406;

export interface TaskConsumerOptions {
  amqpUrl: string;
  /** Bounds amqp.connect (TCP and handshake). */
  connectTimeoutMs: number;
  /** Bounds each close step (consumer cancel, channel, connection): a broker that stopped answering would hold them forever. */
  closeTimeoutMs: number;
  /** Longest wait for the broker's confirm of a dead-letter copy. */
  confirmTimeoutMs: number;
  /**
   * After the shutdown grace, how long aborted work may take to unwind: only
   * a database statement already sent holds it, so the pool's statement
   * bound (plus its client margin) is enough.
   */
  abortDrainMs: number;
  topology: TaskTopology;
  prefetch: number;
  logger: Logger;
  events: ProcessorEvents;
  /** Handles one message; never rejects. */
  handle: (message: ConsumeMessage, deadLetter: DeadLetterFn) => Promise<HandledMessage>;
  /** The channel died: its unacknowledged messages are back in the queue, so the work on them is moot. */
  onChannelLost: () => void;
}

interface Session {
  connection: ChannelModel;
  channel: Channel;
  consumerTag: string;
}

/**
 * One connection, one consuming channel with manual acks and a prefetch
 * limit, and a confirm channel for dead letters. When the connection or a
 * channel dies it reconnects with backoff until stopped; the broker returns
 * the unacknowledged messages of the dead channel to the queue itself.
 */
export class TaskConsumer {
  private stopping = false;
  private readonly stopController = new AbortController();
  private session: Session | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  private peak = 0;
  private loop: Promise<void> | null = null;
  private markReady!: () => void;
  /** Resolves the first time the consumer is registered with the broker. */
  readonly ready = new Promise<void>((resolve) => (this.markReady = resolve));

  constructor(private readonly options: TaskConsumerOptions) {}

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  get peakInFlight(): number {
    return this.peak;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /**
   * Stops taking messages, gives in-flight ones `graceMs` to settle, then
   * aborts the rest (via `abortRest`, so their messages are returned) and
   * closes the connection. Repeat-safe.
   */
  async stop(graceMs: number, abortRest: () => void): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      const session = this.session;
      if (session) {
        const canceled = await withinMs(session.channel.cancel(session.consumerTag), this.options.closeTimeoutMs).catch((error: unknown) => {
          this.options.logger.warn({ err: error }, 'could not cancel the consumer; closing the channel instead');
          return true;
        });
        if (!canceled) this.options.logger.warn('the broker did not answer the consumer cancel in time; closing the channel instead');
      }
      if (!(await this.drain(graceMs))) {
        this.options.logger.warn({ inFlight: this.inFlight.size }, 'shutdown grace ran out; returning unfinished messages to the queue');
        abortRest();
        // Aborted work unwinds at once; only a database statement already
        // sent can hold it up, and the pool's statement bound covers that.
        await this.drain(this.options.abortDrainMs);
      }
      this.stopController.abort();
      const current = this.session;
      // Channel first: its close handshake returns only after the broker has
      // taken every ack and nack sent before it. Closing the connection
      // straight away can overtake acks still buffered in the client.
      // Both bounded: a broker that stopped answering would hold them forever.
      if (current) {
        await withinMs(current.channel.close(), this.options.closeTimeoutMs).catch(() => undefined);
        await closeBrokerConnection(current.connection, this.options.closeTimeoutMs);
      }
    }
    await this.loop;
  }

  private async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight.size > 0) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) return false;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.inFlight]),
        new Promise((resolve) => (timer = setTimeout(resolve, remaining))),
      ]);
      clearTimeout(timer);
    }
    return true;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        await this.consumeUntilClosed(() => (failures = 0));
      } catch (error) {
        if (!this.stopping) this.logFailure(error, failures + 1);
      }
      if (this.stopping) break;
      this.options.onChannelLost();
      await sleep(backoffDelay(failures++, 200, 10_000), this.stopController.signal).catch(() => undefined);
    }
  }

  /** A refused declaration needs an operator (error); anything else is an outage retried (warn). */
  private logFailure(error: unknown, failures: number): void {
    const { logger, topology } = this.options;
    if ((error as { code?: unknown } | null)?.code === PRECONDITION_FAILED) {
      logger.error(
        { err: error, failures, queue: topology.taskQueue },
        'the broker refused the task topology: the queue exists with other arguments; every service must use the settings it was declared with (QUEUE_DELIVERY_LIMIT)',
      );
    } else {
      logger.warn({ err: error, failures }, 'cannot reach RabbitMQ');
    }
  }

  /** Connects, consumes, and resolves when the connection closes. */
  private async consumeUntilClosed(onConnected: () => void): Promise<void> {
    const { amqpUrl, topology, prefetch, logger, events } = this.options;
    const connection = await connectToBroker(amqpUrl, {
      timeoutMs: this.options.connectTimeoutMs,
      connectionName: `taskproc-processor ${hostname()} pid ${process.pid}`,
    });
    const closed = new Promise<void>((resolve) => connection.once('close', () => resolve()));
    connection.on('error', (error: Error) => logger.warn({ err: error }, 'RabbitMQ connection error'));
    const closeConnection = () => void closeBrokerConnection(connection, this.options.closeTimeoutMs);
    try {
      const channel = await connection.createChannel();
      const confirmChannel: ConfirmChannel = await connection.createConfirmChannel();
      for (const ch of [channel, confirmChannel]) {
        ch.on('error', (error: Error) => logger.warn({ err: error }, 'RabbitMQ channel error'));
        // A channel the broker closed (e.g. after a protocol error) takes the
        // whole session down, so one reconnect path restores everything.
        ch.once('close', closeConnection);
      }
      await assertTaskTopology(channel, topology);
      await channel.prefetch(prefetch);
      const deadLetter: DeadLetterFn = createDeadLetterPublisher(confirmChannel, {
        exchange: topology.deadLetterExchange,
        confirmTimeoutMs: this.options.confirmTimeoutMs,
        // The dead-letter queue was deleted: declare the topology again on
        // the confirm channel (a mismatch closes it, and the session with it).
        onUnroutable: () => {
          logger.error({ exchange: topology.deadLetterExchange }, 'a dead-letter copy was unroutable; declaring the dead-letter queue again');
          assertTaskTopology(confirmChannel, topology).catch((error: unknown) => logger.error({ err: error }, 'could not declare the topology again'));
        },
      });
      // The acks settled in one turn share one frame (ack-batcher.ts).
      const acks = new AckBatcher<ConsumeMessage>((message, multiple) => channel.ack(message, multiple));
      const { consumerTag } = await channel.consume(
        topology.taskQueue,
        (message) => {
          // null: the broker canceled us (the queue was deleted); reconnecting re-declares it.
          if (message === null) closeConnection();
          else this.dispatch(message, channel, acks, deadLetter);
        },
        { noAck: false },
      );
      this.session = { connection, channel, consumerTag };
      onConnected();
      logger.info({ queue: topology.taskQueue, prefetch }, 'consuming tasks');
      events.emit('broker-connected');
      this.markReady();
      if (this.stopping) closeConnection();
    } catch (error) {
      closeConnection();
      throw error;
    }
    await closed;
    this.session = null;
    if (!this.stopping) logger.warn('RabbitMQ connection closed; reconnecting');
    events.emit('broker-disconnected');
  }

  private dispatch(message: ConsumeMessage, channel: Channel, acks: AckBatcher<ConsumeMessage>, deadLetter: DeadLetterFn): void {
    const { logger, events, handle } = this.options;
    // Before anything else: a later delivery's ack must not cover this one while it runs.
    acks.received(message);
    const settled = (async () => {
      const handled = await handle(message, deadLetter).catch((error: unknown): HandledMessage => {
        logger.error({ err: error }, 'message handler failed; returning the message to the queue');
        return { taskId: null, outcome: 'returned', disposition: 'requeue' };
      });
      // The message counts as in flight until its ack is written (the
      // batcher's turn), so a shutdown closes the channel only after it.
      const written = handled.disposition === 'ack' ? await acks.ack(message) : requeue(message, channel, acks);
      // Not written: the channel died first, and the broker has returned the message already.
      if (!written) logger.warn({ taskId: handled.taskId }, 'channel closed before the message was settled; the broker redelivers it');
      const acked = written && handled.disposition === 'ack';
      events.emit('settled', { taskId: handled.taskId, outcome: handled.outcome, acked });
    })();
    this.inFlight.add(settled);
    this.peak = Math.max(this.peak, this.inFlight.size);
    void settled.finally(() => this.inFlight.delete(settled));
  }
}

/** Returns the message to the queue at once; false when the channel is closed already. */
function requeue(message: ConsumeMessage, channel: Channel, acks: AckBatcher<ConsumeMessage>): boolean {
  acks.returned(message);
  try {
    channel.nack(message, false, true);
    return true;
  } catch {
    return false;
  }
}

/** Resolves true when `promise` settles within `ms`, false when it does not (it keeps running). Rejects with its error. */
async function withinMs(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}
