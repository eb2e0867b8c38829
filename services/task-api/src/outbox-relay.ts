import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { ChannelModel, ConfirmChannel, Message } from 'amqplib';
import type { MikroORM } from '@mikro-orm/postgresql';
import {
  TASK_MESSAGE_CONTENT_TYPE,
  assertTaskTopology,
  backoffDelay,
  closeBrokerConnection,
  connectToBroker,
  encodeTaskMessage,
  sleep,
  type Logger,
  type TaskTopology,
} from '@taskproc/core';
import { describeBrokerFailure, UnroutableError } from './broker-failure.js';
import { NO_RELAY_TELEMETRY, type RelayTelemetry } from './relay-telemetry.js';

export interface OutboxRelaySettings {
  amqpUrl: string;
  topology: TaskTopology;
  batchSize: number;
  /** Safety net for entries no wake-up announced (other processes, restarts). */
  pollIntervalMs: number;
  /** Bounds amqp.connect (TCP and handshake) and closing a connection. */
  connectTimeoutMs: number;
  /**
   * Longest wait for a batch's confirms. Long enough for a quorum queue under
   * load (confirms normally take milliseconds), short enough that a blocked
   * or unreachable broker cannot hold the outbox (or a shutdown, which waits
   * for the batch in flight) for long.
   */
  confirmTimeoutMs: number;
  /** Metrics and trace spans of each batch (see relay-telemetry.ts); none by default. */
  telemetry?: RelayTelemetry;
}

/**
 * Takes up to `?` due entries (deleted, rows locked with FOR UPDATE SKIP
 * LOCKED) and, in the same statement, when the earliest entry not due yet
 * will be. statement_timestamp() rather than clock_timestamp(): it is
 * stable, so both conditions are index conditions on outbox_not_before_idx.
 * The last row (id null) carries the next due time; the min() reads the
 * snapshot from before the delete, which changes no future entry. Exported
 * for bench/micro/task-life-sql.ts, which measures it.
 */
export const TAKE_DUE_ENTRIES_SQL = `with taken as (
     delete from outbox
      where id in (select id from outbox where not_before <= statement_timestamp()
                    order by id limit ? for update skip locked)
      returning id, task_id, trace_context, (extract(epoch from created_at) * 1000)::float8 as created_ms)
   select id, task_id, trace_context, created_ms, null::float8 as next_due_in_ms from taken
   union all
   select null, null, null, null, extract(epoch from min(not_before) - statement_timestamp())::float8 * 1000
     from outbox where not_before > statement_timestamp()`;

/** Whether the relay can publish now, and if not, why (for readiness and the log). */
export interface RelayHealth {
  publishing: boolean;
  reason?: string;
}

/** What one publish round did, and when the next entry that waits is due. */
interface BatchResult {
  published: number;
  /** Milliseconds from the round's start until the earliest entry not yet due; null: none waits. */
  nextDueInMs: number | null;
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
 * Messages are published `mandatory`: a message the broker cannot route (the
 * task queue was deleted) comes back as a basic.return before its confirm,
 * and the batch rolls back, so its entries stay until the relay has
 * reconnected and declared the queue again.
 *
 * An entry is published once its not_before has come (a failed attempt's
 * backoff, a scheduled task). Between rounds the relay sleeps on one timer,
 * set to the earliest not_before it knows of: each round reads the next one
 * from the table (an index lookup), and an entry committed meanwhile with an
 * earlier time re-arms it (`wakeAfter()`, from this process or from
 * OutboxDueListener). So waiting entries cost nothing until they are due.
 *
 * A create wakes the relay at once (`wake()`); the poll only catches entries
 * no wake-up announced. Broker or database outages are retried with backoff
 * until `stop()`; meanwhile `health()` says why the relay cannot publish
 * (task-api's readiness reports it).
 */
export class OutboxRelay {
  private stopping = false;
  private wakeUp: (() => void) | null = null;
  private pendingWake = false;
  /** performance.now() at which the earliest waiting entry known of is due; Infinity when none is. */
  private nextDueAt = Infinity;
  /** Re-arms the timer of the wait in progress (after nextDueAt moved earlier). */
  private rearm: (() => void) | null = null;
  private running: Promise<void> | null = null;
  /** Rounds begun and finished since start: a flush waits for a round that began after it asked. */
  private roundsStarted = 0;
  private roundsDone = 0;
  private flushWaiters: { afterRound: number; resolve: () => void }[] = [];
  private readonly stopController = new AbortController();
  private state: RelayHealth = { publishing: false, reason: 'not connected to the broker yet' };

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

  /**
   * An entry was committed that is due in `delayMs` (a retry's backoff, a
   * scheduled task): make sure a round runs then. Only ever moves the timer
   * earlier; a round that finds nothing due re-reads the next time anyway.
   */
  wakeAfter(delayMs: number): void {
    if (delayMs <= 0) {
      this.wake();
      return;
    }
    const dueAt = performance.now() + delayMs;
    if (dueAt >= this.nextDueAt) return;
    this.nextDueAt = dueAt;
    this.rearm?.();
  }

  /** Whether the last attempt to reach the broker and declare the topology worked, and no publish has failed since. */
  health(): RelayHealth {
    return this.state;
  }

  /**
   * Publishes what is due now before a shutdown: resolves once a round that
   * began after this call has left nothing due behind it (entries committed
   * by requests the server has just finished answering), or at once when
   * the relay cannot publish, or after `withinMs`. Whatever is left is
   * published by another task-api process or by this one's next start; the
   * flush only spares those tasks that wait.
   */
  async flush(withinMs: number): Promise<void> {
    if (!this.state.publishing || this.stopping) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      const waiter = { afterRound: this.roundsStarted + 1, resolve };
      this.flushWaiters.push(waiter);
      timer = setTimeout(() => {
        this.flushWaiters = this.flushWaiters.filter((w) => w !== waiter);
        resolve();
      }, withinMs);
      this.wake();
    });
    clearTimeout(timer);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.stopController.abort();
    this.wakeUp?.();
    await this.running;
    this.releaseFlushes(Infinity);
  }

  /** Answers the flushes that asked before round `round` began (all of them: Infinity). */
  private releaseFlushes(round: number): void {
    const waiting = this.flushWaiters;
    this.flushWaiters = waiting.filter((w) => w.afterRound > round);
    for (const w of waiting) if (w.afterRound <= round) w.resolve();
  }

  private async runUntilStopped(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      let connection: ChannelModel | null = null;
      let retryInMs = 0;
      try {
        connection = await connectToBroker(this.settings.amqpUrl, {
          timeoutMs: this.settings.connectTimeoutMs,
          connectionName: `taskproc-task-api ${hostname()} pid ${process.pid}`,
        });
        const current = connection;
        const lost = new Promise<Error>((resolve) => {
          current.once('close', (error?: Error) => resolve(error ?? new Error('broker connection closed')));
        });
        // 'close' follows every connection error and ends this session; the
        // error itself says why (heartbeat timeout, broker shutting down).
        current.on('error', (error: Error) => this.logger.warn({ err: error }, 'broker connection error'));
        const channel = await current.createConfirmChannel();
        const channelLost = new Promise<Error>((resolve) => {
          channel.once('close', () => resolve(new Error('broker channel closed')));
        });
        channel.on('error', (error: Error) => this.logger.error({ err: error }, 'broker channel error'));
        await assertTaskTopology(channel, this.settings.topology);
        if (!this.state.publishing) this.logger.info('outbox relay connected to the broker; publishing');
        this.state = { publishing: true };
        failures = 0;
        await this.publishUntilDisconnected(channel, Promise.race([lost, channelLost]));
      } catch (error) {
        // A flush cannot succeed while the relay reconnects: do not hold it.
        this.releaseFlushes(Infinity);
        if (this.stopping) break;
        const reason = describeBrokerFailure(error, this.settings.topology);
        retryInMs = backoffDelay(failures++);
        const fields = { err: error, reason: reason.text, retryInMs, failures };
        // An outage logs a warning per attempt; a mismatch needs an operator.
        if (reason.needsOperator) this.logger.error(fields, 'outbox relay cannot publish; readiness is NOT_SERVING until it can');
        else this.logger.warn(fields, 'outbox relay interrupted; retrying');
        this.state = { publishing: false, reason: reason.text };
      } finally {
        if (connection) await closeBrokerConnection(connection, this.settings.connectTimeoutMs);
      }
      if (retryInMs > 0) await sleep(retryInMs, this.stopController.signal).catch(() => {});
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
      // The round reads the next due time afresh; an entry announced while
      // it runs may be earlier still, so announcements keep lowering it.
      this.nextDueAt = Infinity;
      const startedAt = performance.now();
      this.roundsStarted++;
      const { published, nextDueInMs } = await this.publishBatch(channel);
      this.roundsDone++;
      if (nextDueInMs !== null) this.nextDueAt = Math.min(this.nextDueAt, startedAt + nextDueInMs);
      if (published === this.settings.batchSize || this.pendingWake) continue;
      this.releaseFlushes(this.roundsDone);
      await this.waitForWork();
    }
  }

  /**
   * One transaction: take up to `batchSize` due entries (one DELETE ...
   * RETURNING of rows locked with FOR UPDATE SKIP LOCKED), publish them, wait
   * for the confirms, commit. The deletion takes effect only at the commit,
   * so entries whose confirms never came are rolled back into place. Returns
   * how many entries it published and, from the same statement, when the
   * earliest entry that is not due yet will be (measured by the database's
   * clock, so the clocks of the hosts need not agree).
   *
   * A knex transaction rather than em.transactional: the latter runs in an
   * AsyncLocalStorage context, which turns on promise hooks that then tax
   * every promise of every request in the process.
   */
  private async publishBatch(channel: ConfirmChannel): Promise<BatchResult> {
    return this.orm.em.getConnection().getKnex().transaction(async (tx) => {
      const { rows } = await tx.raw<{ rows: { id: string | null; task_id: string | null; trace_context: string | null; created_ms: number | null; next_due_in_ms: number | null }[] }>(
        TAKE_DUE_ENTRIES_SQL,
        [this.settings.batchSize],
      );
      const next = rows.find((row) => row.id === null)?.next_due_in_ms ?? null;
      const nextDueInMs = next === null ? null : Math.ceil(Number(next));
      const entries = rows.filter((row): row is { id: string; task_id: string; trace_context: string | null; created_ms: number; next_due_in_ms: null } => row.id !== null);
      if (entries.length === 0) return { published: 0, nextDueInMs };
      // RETURNING keeps no order; publish in the order the tasks were queued.
      entries.sort((a, b) => Number(BigInt(a.id) - BigInt(b.id)));
      const batch = (this.settings.telemetry ?? NO_RELAY_TELEMETRY).batch(this.settings.topology.taskQueue, entries);
      const returned: string[] = [];
      const onReturn = (message: Message) => returned.push(String(message.properties.messageId));
      channel.on('return', onReturn);
      try {
        entries.forEach(({ task_id: taskId }, i) => {
          channel.sendToQueue(this.settings.topology.taskQueue, encodeTaskMessage(taskId), {
            persistent: true,
            mandatory: true,
            contentType: TASK_MESSAGE_CONTENT_TYPE,
            messageId: taskId,
            headers: batch.headers(i),
          });
        });
        batch.sent();
        await this.confirmed(channel);
      } catch (error) {
        batch.failed(error);
        throw error;
      } finally {
        channel.off('return', onReturn);
      }
      // The broker sends a return before the confirm of the same message, so
      // every return of this batch has arrived by now. One unroutable message
      // means the queue is gone for all: roll the whole batch back.
      if (returned.length > 0) {
        const unroutable = new UnroutableError(this.settings.topology.taskQueue, returned.length);
        batch.failed(unroutable);
        throw unroutable;
      }
      batch.confirmed();
      this.logger.debug({ count: entries.length }, 'published outbox entries');
      return { published: entries.length, nextDueInMs };
    });
  }

  /**
   * The broker's confirms for everything published on the channel. A broker
   * that blocks publishers (memory or disk alarm) keeps the connection open
   * and never confirms: give up after `confirmTimeoutMs` so the transaction
   * rolls back, its row locks and connection are released, and the entries
   * are published again later. A stop does not cut the wait short: the batch
   * in flight was published, and committing its deletion once confirmed
   * spares the processors a second copy of every message.
   */
  private async confirmed(channel: ConfirmChannel): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const { confirmTimeoutMs } = this.settings;
    const givingUp = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no confirms from the broker within ${confirmTimeoutMs} ms`)), confirmTimeoutMs);
    });
    try {
      await Promise.race([channel.waitForConfirms(), givingUp]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Sleeps until a wake-up, the earliest known due time, or the safety-net
   * poll, whichever comes first. wakeAfter() re-arms the one timer when an
   * earlier entry is announced during the wait.
   */
  private waitForWork(): Promise<void> {
    return new Promise((resolve) => {
      const pollAt = performance.now() + this.settings.pollIntervalMs;
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = null;
        this.rearm = null;
        resolve();
      };
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(done, Math.max(0, Math.ceil(Math.min(pollAt, this.nextDueAt) - performance.now())));
      };
      this.wakeUp = done;
      this.rearm = arm;
      arm();
    });
  }
}
