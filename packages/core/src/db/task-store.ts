import type { EntityManager } from '@mikro-orm/postgresql';
import type { MikroORM } from '@mikro-orm/postgresql';
import { FailedPreconditionError, taskNotFound } from '../errors.js';
import { CANCELABLE_STATUSES, type TaskStatusName } from '../status.js';
import { DEFAULT_TENANT } from '../tenants.js';
import { translateDatabaseError } from './database-errors.js';
import { CANCEL_SQL, CLAIM_MANY_SQL, COMPLETE_MANY_SQL } from './guarded-updates.js';
import { fromDatabaseTimestamp } from './micros-timestamp.type.js';
import { createTasks, deleteExpiredKeys, tasksOrConflict, type CreateOutcome, type NewTask } from './task-creation.js';
import { taskFromRow } from './task-row.js';
import { TaskSchema, type Task } from './task.entity.js';


/** What a successful claim hands the processor: the attempt it now holds. */
export interface Claim {
  task: Task;
  attempt: number;
  /** Attempts that failed before this one (see TaskFailureStore); the others before it were interrupted. */
  failedAttempts: number;
}

/**
 * Every read and change of a task's row. Each change of status is one guarded
 * UPDATE whose WHERE clause states the status it expects; the number of rows
 * it touched is the answer. Creates and changes of status are single raw
 * statements on the ORM's pool (each its own transaction); reads use a forked
 * EntityManager per call. Database outages surface as UnavailableError.
 *
 * What a client asks for (get, cancel, create) names the caller's tenant and
 * is scoped by it in SQL: another tenant's task is not found, exactly like a
 * missing one. What a processor does to the task a queue message names
 * (claim, complete) is not: the message came from this system's outbox.
 */
export interface TaskStoreOptions {
  /** See SharedConfig.taskStaleAfterMs. */
  staleAfterMs?: number;
  /** How long a request_id stays bound to the task it created (24 h unless a test shortens it). */
  idempotencyKeyLifetimeMs?: number;
  /** Told of every create and change of status this store committed (metrics); see TaskStoreObserver. */
  observer?: TaskStoreObserver;
}

/**
 * What the store committed, told once per statement by the process that
 * issued it, right after the commit: so counts summed over every replica
 * equal what the database holds, each change counted once.
 */
export interface TaskStoreObserver {
  created(tasks: readonly Task[]): void;
  /** Tasks that just reached `status` (their updatedAt is the commit's time). */
  transitioned(status: TaskStatusName, tasks: readonly Pick<Task, 'createdAt' | 'updatedAt' | 'attempt'>[]): void;
}

const DEFAULT_STALE_AFTER_MS = 300_000;
export const DEFAULT_IDEMPOTENCY_KEY_LIFETIME_MS = 86_400_000;

export class TaskStore {
  private readonly staleAfter: string;
  private readonly keyLifetimeMs: number;
  private readonly observer: TaskStoreObserver | undefined;

  constructor(
    private readonly orm: MikroORM,
    options: TaskStoreOptions = {},
  ) {
    this.staleAfter = `${options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS} milliseconds`;
    this.keyLifetimeMs = options.idempotencyKeyLifetimeMs ?? DEFAULT_IDEMPOTENCY_KEY_LIFETIME_MS;
    this.observer = options.observer;
  }

  /**
   * Inserts a pending task of the default tenant and its outbox entry in one
   * statement: either both exist afterwards or neither does.
   */
  async createWithOutboxEntry(content: string): Promise<Task> {
    return (await this.createManyWithOutboxEntries([content]))[0]!;
  }

  /**
   * Group commit of creates: inserts one pending task and one outbox entry per
   * content in a single statement (so all commit together or none does) and
   * returns the tasks in the order of `contents`. A lone create takes the
   * same statement: one round trip, where BEGIN, two INSERTs and COMMIT took
   * four. `traceContexts` (one per content, or none) go into the outbox
   * entries, so the publish continues each create's trace. The tasks belong
   * to the default tenant.
   */
  async createManyWithOutboxEntries(contents: string[], traceContexts: readonly (string | null)[] = []): Promise<Task[]> {
    const outcomes = await this.createTasks(
      contents.map((content, i) => ({ tenant: DEFAULT_TENANT, content, traceContext: traceContexts[i] ?? null })),
    );
    return outcomes.map((outcome) => {
      if (outcome.kind === 'conflict') throw new Error('a create without request_id met a conflict');
      return outcome.task;
    });
  }

  /**
   * Creates with options (request_id, schedule_time), the way group commit
   * batches them: one autocommit statement, one outcome per item in order
   * (see task-creation.ts). Each item names its tenant. An item whose
   * request_id is taken in its tenant by other content creates nothing and
   * gets a conflict; the others are created.
   */
  async createTasks(items: readonly NewTask[]): Promise<CreateOutcome[]> {
    const outcomes = await this.run((em) => createTasks((sql, params) => em.getConnection().execute(sql, params, 'all'), items, this.keyLifetimeMs));
    this.observeCreated(outcomes);
    return outcomes;
  }

  /**
   * BatchCreateTasks: all items in one transaction, or none. Throws
   * AlreadyExistsError naming the first item whose request_id was used with
   * other content, after rolling back.
   */
  async createTasksAtomically(items: readonly NewTask[]): Promise<Task[]> {
    try {
      // A knex transaction, not em.transactional (see OutboxRelay.publishBatch).
      const tasks = await this.orm.em.getConnection().getKnex().transaction(async (tx) => {
        const execute = async (sql: string, params: unknown[]) =>
          (await tx.raw<{ rows: Record<string, unknown>[] }>(sql, params as never[])).rows;
        return tasksOrConflict(await createTasks(execute, items, this.keyLifetimeMs));
      });
      this.observer?.created(tasks);
      return tasks;
    } catch (error) {
      throw translateDatabaseError(error);
    }
  }

  /** Tells the observer of the tasks a create statement inserted (not those a repeated request_id answered with). */
  private observeCreated(outcomes: readonly CreateOutcome[]): void {
    const created = outcomes.flatMap((outcome) => (outcome.kind === 'created' ? [outcome.task] : []));
    if (created.length > 0) this.observer?.created(created);
  }

  /** Deletes up to `limit` expired idempotency keys without waiting on creates; returns how many. */
  async deleteExpiredIdempotencyKeys(limit: number): Promise<number> {
    return this.run((em) => deleteExpiredKeys((sql, params) => em.getConnection().execute(sql, params, 'all'), limit));
  }

  /** The task of `tenant`, or null when that tenant has no task with this id. */
  async find(tenant: string, id: string): Promise<Task | null> {
    return this.run((em) => em.findOne(TaskSchema, { id, tenant }));
  }

  /**
   * The task with this id whoever owns it, or null: for a processor, whose
   * ids come from its own queue messages and held tasks, never from a client.
   */
  async findInAnyTenant(id: string): Promise<Task | null> {
    return this.run((em) => em.findOne(TaskSchema, { id }));
  }

  /** The task of `tenant`; throws NotFoundError when that tenant has no task with this id. */
  async get(tenant: string, id: string): Promise<Task> {
    const task = await this.find(tenant, id);
    if (!task) throw taskNotFound(id);
    return task;
  }

  /**
   * pending | processing -> canceled, for a task of `tenant`.
   * Returns the canceled task. Throws NotFoundError when that tenant has no
   * task with this id, FailedPreconditionError (naming the status) when it is
   * already final.
   */
  async cancelIfNotFinal(tenant: string, id: string): Promise<Task> {
    const [row] = await this.execute(CANCEL_SQL, [id, tenant, `{${CANCELABLE_STATUSES.join(',')}}`]);
    if (row) {
      const task = taskFromRow(row);
      this.observer?.transitioned('canceled', [task]);
      return task;
    }
    const current = await this.find(tenant, id);
    if (!current) throw taskNotFound(id);
    throw new FailedPreconditionError(`task ${id} is already ${current.status} and cannot be canceled`);
  }

  /**
   * pending -> processing, bumping the attempt. With `reclaim` (the message is
   * a redelivery, so its previous holder lost it) a task still processing is
   * taken over too, and so is one unchanged for longer than the stale period
   * whatever the message (its holder is gone; see requeueStale). Returns null
   * when nothing matched: the task is final, canceled, held by a live
   * processor, or does not exist.
   */
  async claim(id: string, options: { reclaim: boolean }): Promise<Claim | null> {
    return (await this.claimMany([id], options))[0]!;
  }

  /**
   * processing -> completed, only while `attempt` still holds the task.
   * Returns false when the task was canceled or taken over meanwhile.
   */
  async completeIfHeld(id: string, attempt: number): Promise<boolean> {
    return (await this.completeManyIfHeld([{ id, attempt }]))[0]!;
  }

  /**
   * claim() for many tasks in one guarded statement (pending -> processing, or
   * with `reclaim` also processing -> processing). Returns one answer per id,
   * in order: the claim, or null when the guard matched nothing. An id listed
   * twice is claimed once; its later copies get null, as a duplicate would.
   * A pending task is claimed only once due (queued_at is its schedule time,
   * or the end of a failed attempt's backoff): a stray or duplicate message
   * cannot start it early, and its own outbox entry is published when due.
   */
  async claimMany(ids: string[], options: { reclaim: boolean }): Promise<(Claim | null)[]> {
    const rows = await this.execute(CLAIM_MANY_SQL, [`{${ids.join(',')}}`, options.reclaim, this.staleAfter]);
    const claimed = new Map(rows.map((row) => [String(row.id), row]));
    if (rows.length > 0) this.observer?.transitioned('processing', rows.map(taskFromRow));
    return ids.map((id) => {
      // PostgreSQL returns ids in lower case; a message may carry upper case.
      const row = claimed.get(id.toLowerCase());
      claimed.delete(id.toLowerCase()); // a second copy of the id is a duplicate
      if (!row) return null;
      const task = taskFromRow(row);
      return { task, attempt: task.attempt, failedAttempts: Number(row.failed_attempts ?? 0) };
    });
  }

  /**
   * completeIfHeld() for many tasks in one guarded statement: each task goes
   * processing -> completed only while its attempt still holds it. Returns one
   * answer per item, in order.
   */
  async completeManyIfHeld(items: { id: string; attempt: number }[]): Promise<boolean[]> {
    const rows = await this.execute(COMPLETE_MANY_SQL, [JSON.stringify(items), `{${items.map((i) => i.id).join(',')}}`]);
    if (rows.length > 0) this.observer?.transitioned('completed', rows.map(timesFromRow));
    const completed = new Set(rows.map((row) => `${String(row.id)}/${String(row.attempt)}`));
    return items.map((i) => completed.delete(`${i.id.toLowerCase()}/${i.attempt}`));
  }

  /**
   * Puts back in the outbox every pending or processing task that has not
   * changed, nor been queued, for longer than the stale period: its message
   * was lost to the system (dead-lettered after repeated interruptions, or
   * purged). One statement marks them queued and inserts their outbox rows,
   * so a task is queued again at most once per stale period. A task whose old
   * message does turn up meets the guarded claim like any duplicate. Returns
   * the ids queued.
   */
  async requeueStale(): Promise<string[]> {
    const rows = await this.execute(
      `with stale as (
         update task set queued_at = clock_timestamp()
          where status in ('pending', 'processing')
            and queued_at < clock_timestamp() - ?::interval
            and coalesce(updated_at, created_at) < clock_timestamp() - ?::interval
          returning id)
       insert into outbox (task_id) select id from stale returning task_id`,
      [this.staleAfter, this.staleAfter],
    );
    return rows.map((row) => String(row.task_id));
  }

  /** Whether a task with this id exists at all, in any tenant (the processor's test of a poison message against a duplicate). */
  async exists(id: string): Promise<boolean> {
    return this.run(async (em) => (await em.count(TaskSchema, { id })) > 0);
  }

  /** One raw statement on a pooled connection (autocommit: the statement is its own transaction). */
  private async execute(sql: string, params: unknown[]): Promise<Record<string, unknown>[]> {
    return this.run((em) => em.getConnection().execute<Record<string, unknown>[]>(sql, params, 'all'));
  }

  private async run<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    try {
      return await work(this.orm.em.fork());
    } catch (error) {
      throw translateDatabaseError(error);
    }
  }
}

function timesFromRow(row: Record<string, unknown>): Pick<Task, 'createdAt' | 'updatedAt' | 'attempt'> {
  return {
    createdAt: fromDatabaseTimestamp(row.created_at as string | Date)!,
    updatedAt: fromDatabaseTimestamp(row.updated_at as string | Date | null),
    attempt: Number(row.attempt),
  };
}
