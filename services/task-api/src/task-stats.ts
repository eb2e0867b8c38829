import { create } from '@bufbuild/protobuf';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import type { MikroORM } from '@mikro-orm/postgresql';
import { GetTaskStatsResponseSchema, type GetTaskStatsResponse } from '@taskproc/contract';
import { TASK_STATUSES, UnavailableError, translateDatabaseError, type Logger, type TaskStatusName, type TaskTopology } from '@taskproc/core';
import { STATUS_TO_PROTO } from './task-view.js';

// GetTaskStats: what a dashboard or an operator wants at a glance. The
// database part is one statement (counts by status, outbox backlog, oldest
// due entry); the broker part is two passive queue checks. Each has a bound,
// and broker trouble does not fail the call: the answer says what could not
// be asked (brokerError) and still carries what the database knows.
//
// Whose figures: the database part counts the caller's tenant's tasks and
// their outbox entries only, scoped in SQL like every other read. The broker
// part (dead-lettered messages, processors) describes the processing
// pipeline every tenant shares and stays deployment-wide: how many
// processors consume tells a tenant whether its tasks will run and nothing
// about anyone's tasks, and the dead-letter queue holds messages of every
// tenant that no count could split without reading each message (a
// malformed one names no task at all). Both are totals over the deployment,
// never a hint about one task.

/** A count statement that takes longer than this is canceled (the call answers UNAVAILABLE). */
export const STATS_STATEMENT_TIMEOUT_MS = 5_000;
/** Time the broker gets to answer both queue checks (connecting included). */
export const STATS_BROKER_TIMEOUT_MS = 2_000;

export interface TaskStats {
  counts: Record<TaskStatusName, number>;
  outboxBacklog: number;
  /** Seconds since the oldest due, unpublished entry became due; null when none is due. */
  oldestDueOutboxAgeSeconds: number | null;
  deadLettered: number;
  processors: number;
  /** Empty when the broker answered; otherwise why deadLettered and processors are unknown (0). */
  brokerError: string;
}

export interface TaskStatsSource {
  /** The figures of `tenant`'s tasks, and the shared pipeline's. */
  read(tenant: string): Promise<TaskStats>;
  close(): Promise<void>;
}

// One statement, one round trip inside its transaction, of one tenant. The
// grouped count reads every row of the tenant's tasks: an index-only scan of
// task (tenant, status, created_at, id) when the visibility map is fresh, so
// it grows with the tenant's tasks (see docs/dashboard.md for figures); the
// statement timeout keeps a huge tenant from holding a connection. The
// outbox figures join each entry to its task for the tenant (the outbox is
// small unless the broker has been away).
const STATS_SQL = `
select
  (select coalesce(json_object_agg(status, n), '{}'::json)
     from (select status, count(*) as n from task where tenant = ? group by status) as c) as counts,
  (select count(*) from outbox o join task t on t.id = o.task_id where t.tenant = ?) as outbox_backlog,
  (select extract(epoch from clock_timestamp() - min(o.not_before))
     from outbox o join task t on t.id = o.task_id
    where t.tenant = ? and o.not_before <= clock_timestamp()) as oldest_due_seconds`;

export function createTaskStats(
  orm: MikroORM,
  broker: { amqpUrl: string; topology: TaskTopology },
  logger: Logger,
): TaskStatsSource {
  const queues = new BrokerQueueCheck(broker.amqpUrl, logger);
  return {
    async read(tenant) {
      const [database, brokerAnswer] = await Promise.all([
        readDatabaseStats(orm, tenant),
        queues.check([broker.topology.taskQueue, broker.topology.deadLetterQueue]),
      ]);
      const [taskQueue, deadLetterQueue] = 'error' in brokerAnswer ? [undefined, undefined] : brokerAnswer.queues;
      return {
        ...database,
        processors: taskQueue?.consumerCount ?? 0,
        deadLettered: deadLetterQueue?.messageCount ?? 0,
        brokerError: 'error' in brokerAnswer ? brokerAnswer.error : '',
      };
    },
    close: () => queues.close(),
  };
}

async function readDatabaseStats(orm: MikroORM, tenant: string): Promise<Omit<TaskStats, 'deadLettered' | 'processors' | 'brokerError'>> {
  let row: Record<string, unknown> | undefined;
  try {
    row = await orm.em.getKnex().transaction(async (trx) => {
      await trx.raw(`set local statement_timeout = ${STATS_STATEMENT_TIMEOUT_MS}`);
      const result = await trx.raw<{ rows: Record<string, unknown>[] }>(STATS_SQL, [tenant, tenant, tenant]);
      return result.rows[0];
    });
  } catch (error) {
    if ((error as { code?: unknown }).code === '57014') {
      throw new UnavailableError(`counting tasks took over ${STATS_STATEMENT_TIMEOUT_MS / 1000} s`, { cause: error });
    }
    throw translateDatabaseError(error);
  }
  const found = (row?.counts ?? {}) as Record<string, string | number>;
  const counts = Object.fromEntries(TASK_STATUSES.map((status) => [status, Number(found[status] ?? 0)])) as Record<TaskStatusName, number>;
  const oldest = row?.oldest_due_seconds;
  return {
    counts,
    outboxBacklog: Number(row?.outbox_backlog ?? 0),
    oldestDueOutboxAgeSeconds: oldest === null || oldest === undefined ? null : Math.max(0, Number(oldest)),
  };
}

interface QueueState {
  messageCount: number;
  consumerCount: number;
}

type BrokerAnswer = { queues: (QueueState | undefined)[] } | { error: string };

/**
 * Passive checks (checkQueue) on one connection kept between calls. A queue
 * that does not exist yet counts as empty with no consumers (nothing has
 * declared it: no processor runs). A failed or slow check drops the
 * connection, and the next call connects again.
 */
class BrokerQueueCheck {
  private connection: Promise<ChannelModel> | null = null;
  private closed = false;

  constructor(
    private readonly amqpUrl: string,
    private readonly logger: Logger,
  ) {}

  async check(names: string[]): Promise<BrokerAnswer> {
    if (this.closed) return { error: 'the service is shutting down' };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), STATS_BROKER_TIMEOUT_MS);
    });
    const work = this.checkAll(names);
    try {
      const answer = await Promise.race([work, timeout]);
      if (answer === 'timeout') {
        this.reset();
        return { error: `the broker did not answer within ${STATS_BROKER_TIMEOUT_MS / 1000} s` };
      }
      return { queues: answer };
    } catch (error) {
      this.logger.warn({ err: error }, 'stats: broker check failed');
      this.reset();
      return { error: 'the broker is unavailable' };
    } finally {
      clearTimeout(timer);
      work.catch(() => {}); // settled after a timeout: already answered
    }
  }

  private async checkAll(names: string[]): Promise<(QueueState | undefined)[]> {
    const connection = await this.connect();
    const states: (QueueState | undefined)[] = [];
    for (const name of names) {
      // A passive check of a missing queue closes its channel (404): one
      // channel per check, so one missing queue cannot fail the other.
      const channel: Channel = await connection.createChannel();
      channel.on('error', () => {}); // the 404 arrives here too; handled below
      try {
        const state = await channel.checkQueue(name);
        states.push({ messageCount: state.messageCount, consumerCount: state.consumerCount });
        await channel.close().catch(() => {});
      } catch (error) {
        if ((error as { code?: unknown }).code !== 404) throw error;
        states.push(undefined);
      }
    }
    return states;
  }

  private connect(): Promise<ChannelModel> {
    if (this.connection) return this.connection;
    const connecting: Promise<ChannelModel> = (async () => {
      const connection = await amqp.connect(this.amqpUrl, { timeout: STATS_BROKER_TIMEOUT_MS });
      connection.on('error', () => {}); // 'close' follows; the next check reconnects
      connection.on('close', () => {
        if (this.connection === connecting) this.connection = null;
      });
      return connection;
    })();
    connecting.catch(() => {
      if (this.connection === connecting) this.connection = null;
    });
    this.connection = connecting;
    return connecting;
  }

  private reset(): void {
    const connection = this.connection;
    this.connection = null;
    // Whenever it connects (a slow connect may still finish), close it.
    connection?.then((c) => closeWithin(Promise.resolve(c))).catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    const connection = this.connection;
    this.connection = null;
    if (!connection) return;
    connection.then((c) => closeWithin(Promise.resolve(c))).catch(() => {});
    await closeWithin(connection);
  }
}

/**
 * Closes a connection, waiting at most STATS_BROKER_TIMEOUT_MS for the
 * broker's close-ok (amqplib's close has no bound of its own); a broker that
 * does not answer gets its socket cut.
 */
async function closeWithin(connecting: Promise<ChannelModel>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), STATS_BROKER_TIMEOUT_MS);
  });
  try {
    // A connect still under way is bounded by its own socket timeout (STATS_BROKER_TIMEOUT_MS).
    const connection = await Promise.race([connecting.catch(() => undefined), timedOut]);
    if (connection === undefined || connection === 'timeout') return;
    const outcome = await Promise.race([connection.close().catch(() => 'closed' as const), timedOut]);
    if (outcome === 'timeout') (connection.connection as unknown as { stream?: { destroy(): void } }).stream?.destroy();
  } finally {
    clearTimeout(timer);
  }
}

/** The GetTaskStats answer: one count per status (zeros included), in the contract's status order. */
export function toStatsMessage(stats: TaskStats): GetTaskStatsResponse {
  const age = stats.oldestDueOutboxAgeSeconds;
  return create(GetTaskStatsResponseSchema, {
    counts: TASK_STATUSES.map((status) => ({ status: STATUS_TO_PROTO[status], count: BigInt(stats.counts[status]) })),
    outboxBacklog: BigInt(stats.outboxBacklog),
    oldestDueOutboxAge:
      age === null ? undefined : { seconds: BigInt(Math.floor(age)), nanos: Math.min(999_999, Math.round((age - Math.floor(age)) * 1e6)) * 1000 },
    deadLettered: BigInt(stats.deadLettered),
    processors: stats.processors,
    brokerError: stats.brokerError,
  });
}
