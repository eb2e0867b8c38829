import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { MikroORM } from '@mikro-orm/postgresql';
import {
  TASK_MESSAGE_CONTENT_TYPE,
  assertTaskTopology,
  backoffDelay,
  encodeTaskMessage,
  sleep,
  type Logger,
  type TaskTopology,
} from '@taskproc/core';
import { NO_RELAY_TELEMETRY, type RelayTelemetry } from './relay-telemetry.js';

// Long enough for a quorum queue under load (confirms normally take
// milliseconds), short enough that a blocked broker cannot hold the outbox
// (or a shutdown, which waits for the batch in flight) for long.
const CONFIRM_TIMEOUT_MS = 15_000;

export interface OutboxRelaySettings {
  amqpUrl: string;
  topology: TaskTopology;
  batchSize: number;
  /** Safety net for entries no wake-up announced (other processes, restarts). */
  pollIntervalMs: number;
  /** Metrics and trace spans of each batch (see relay-telemetry.ts); none by default. */
  telemetry?: RelayTelemetry;
}

/**
 * Publishes outbox entries to RabbitMQ and deletes them once the broker has
 * confirmed them.
 *
 * Each batch is one transaction: delete up to `batchSize` entries locked
 * with FOR UPDATE SKIP LOCKED (several task-api processes share the table
 * without waiting on each other or skipping rows that commit out of order),
 * publish them as persistent messages on a confirm channel, wait for the
 * confirms, commit. A crash anywhere before the commit leaves the entries
 * in place to be published again: delivery is at least once, and the
 * processor's guarded updates make duplicates harmless.
 *
 * A create wakes the relay at once (`wake()`); the poll only catches entries
 * no wake-up announced. Broker or database outages are retried with backoff
 * until `stop()`.
 */
export class OutboxRelay {
  private stopping = false;
  private wakeUp: (() => void) | null = null;
  private pendingWake = false;
  private running: Promise<void> | null = null;
  private readonly stopController = new AbortController();

  constructor(
    private readonly orm: MikroORM,
    private readonly settings: OutboxRelaySettings,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.running ??= this.runUntilStopped();
  }

  /** Asks for a publish round now (a task was just committed). */
  wake(): void {
    this.pendingWake = true;
    this.wakeUp?.();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.stopController.abort();
    this.wakeUp?.();
    await this.running;
  }

  private async runUntilStopped(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      let connection: ChannelModel | null = null;
      try {
        connection = await amqp.connect(this.settings.amqpUrl);
        const lost = new Promise<Error>((resolve) => {
          connection!.once('close', (error?: Error) => resolve(error ?? new Error('broker connection closed')));
        });
        connection.on('error', () => {}); // 'close' follows and is handled above
        const channel = await connection.createConfirmChannel();
        channel.on('error', () => {}); // a channel error closes the connection's use for us via publish failures
        await assertTaskTopology(channel, this.settings.topology);
        if (failures > 0) this.logger.info('outbox relay reconnected to the broker');
        failures = 0;
        await this.publishUntilDisconnected(channel, lost);
      } catch (error) {
        if (this.stopping) break;
        const delay = backoffDelay(failures++);
        this.logger.warn({ err: error, retryInMs: delay }, 'outbox relay interrupted; retrying');
        await sleep(delay, this.stopController.signal).catch(() => {});
      } finally {
        await connection?.close().catch(() => {});
      }
    }
  }

  private async publishUntilDisconnected(channel: ConfirmChannel, lost: Promise<Error>): Promise<void> {
    let disconnected: Error | null = null;
    void lost.then((error) => {
      disconnected = error;
      this.wakeUp?.();
    });
    while (!this.stopping) {
      if (disconnected) throw disconnected;
      this.pendingWake = false;
      const published = await this.publishBatch(channel);
      if (published === this.settings.batchSize || this.pendingWake) continue;
      await this.waitForWork();
    }
  }

  /**
   * One transaction: take up to `batchSize` entries (one DELETE ... RETURNING
   * of rows locked with FOR UPDATE SKIP LOCKED), publish them, wait for the
   * confirms, commit. The deletion takes effect only at the commit, so
   * entries whose confirms never came are rolled back into place. Returns
   * how many entries it published.
   *
   * A knex transaction rather than em.transactional: the latter runs in an
   * AsyncLocalStorage context, which turns on promise hooks that then tax
   * every promise of every request in the process.
   */
  private async publishBatch(channel: ConfirmChannel): Promise<number> {
    return this.orm.em.getConnection().getKnex().transaction(async (tx) => {
      const { rows: entries } = await tx.raw<{ rows: { id: string; task_id: string; trace_context: string | null; created_ms: number }[] }>(
        `delete from outbox
          where id in (select id from outbox order by id limit ? for update skip locked)
          returning id, task_id, trace_context, (extract(epoch from created_at) * 1000)::float8 as created_ms`,
        [this.settings.batchSize],
      );
      if (entries.length === 0) return 0;
      // RETURNING keeps no order; publish in the order the tasks were queued.
      entries.sort((a, b) => Number(BigInt(a.id) - BigInt(b.id)));
      const batch = (this.settings.telemetry ?? NO_RELAY_TELEMETRY).batch(this.settings.topology.taskQueue, entries);
      entries.forEach(({ task_id: taskId }, i) => {
        channel.sendToQueue(this.settings.topology.taskQueue, encodeTaskMessage(taskId), {
          persistent: true,
          contentType: TASK_MESSAGE_CONTENT_TYPE,
          messageId: taskId,
          headers: batch.headers(i),
        });
      });
      batch.sent();
      await this.confirmed(channel).catch((error: unknown) => {
        batch.failed(error);
        throw error;
      });
      batch.confirmed();
      this.logger.debug({ count: entries.length }, 'published outbox entries');
      return entries.length;
    });
  }

  /**
   * The broker's confirms for everything published on the channel. A broker
   * that blocks publishers (memory or disk alarm) keeps the connection open
   * and never confirms: give up after CONFIRM_TIMEOUT_MS so the transaction
   * rolls back, its row locks and connection are released, and the entries
   * are published again later. A stop does not cut the wait short: the batch
   * in flight was published, and committing its deletion once confirmed
   * spares the processors a second copy of every message.
   */
  private async confirmed(channel: ConfirmChannel): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const givingUp = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no confirms from the broker within ${CONFIRM_TIMEOUT_MS} ms`)), CONFIRM_TIMEOUT_MS);
    });
    try {
      await Promise.race([channel.waitForConfirms(), givingUp]);
    } finally {
      clearTimeout(timer);
    }
  }

  private waitForWork(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.settings.pollIntervalMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = null;
        done();
      };
    });
  }
}
