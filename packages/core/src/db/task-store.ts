import { raw, type EntityManager } from '@mikro-orm/postgresql';
import type { MikroORM } from '@mikro-orm/postgresql';
import { FailedPreconditionError, NotFoundError } from '../errors.js';
import { newTaskId } from '../ids.js';
import { CANCELABLE_STATUSES } from '../status.js';
import { translateDatabaseError } from './database-errors.js';
import { OutboxEntrySchema } from './outbox-entry.entity.js';
import { TaskSchema, type Task } from './task.entity.js';

/** What a successful claim hands the processor: the attempt it now holds. */
export interface Claim {
  task: Task;
  attempt: number;
}

/**
 * Every read and change of a task's row. Each change of status is one guarded
 * UPDATE whose WHERE clause states the status it expects; the number of rows
 * it touched is the answer. Every call runs in its own forked EntityManager
 * (one unit of work), and database outages surface as UnavailableError.
 */
export class TaskStore {
  constructor(private readonly orm: MikroORM) {}

  /**
   * Inserts a pending task and its outbox entry in one transaction: either both
   * exist afterwards or neither does.
   */
  async createWithOutboxEntry(content: string): Promise<Task> {
    return this.run(async (em) =>
      em.transactional(async (tx) => {
        const task = tx.create(TaskSchema, { id: newTaskId(), content, status: 'pending', attempt: 0, updatedAt: null });
        tx.create(OutboxEntrySchema, { task });
        await tx.flush();
        return task;
      }),
    );
  }

  /** The task, or null when no task has this id. */
  async find(id: string): Promise<Task | null> {
    return this.run((em) => em.findOne(TaskSchema, { id }));
  }

  /** The task; throws NotFoundError when no task has this id. */
  async get(id: string): Promise<Task> {
    const task = await this.find(id);
    if (!task) throw new NotFoundError(`task ${id} not found`);
    return task;
  }

  /**
   * pending | processing -> canceled.
   * Returns the canceled task. Throws NotFoundError when no task has this id,
   * FailedPreconditionError (naming the status) when it is already final.
   */
  async cancelIfNotFinal(id: string): Promise<Task> {
    const updated = await this.updateReturning(id, { status: 'canceled' }, { status: { $in: [...CANCELABLE_STATUSES] } });
    if (updated) return updated;
    const current = await this.find(id);
    if (!current) throw new NotFoundError(`task ${id} not found`);
    throw new FailedPreconditionError(`task ${id} is already ${current.status} and cannot be canceled`);
  }

  /**
   * pending -> processing, bumping the attempt. With `reclaim` (the message is
   * a redelivery, so its previous holder lost it) a task still processing is
   * taken over too. Returns null when nothing matched: the task is final,
   * canceled, held by a live processor, or does not exist.
   */
  async claim(id: string, options: { reclaim: boolean }): Promise<Claim | null> {
    const statuses = options.reclaim ? ['pending', 'processing'] : ['pending'];
    const task = await this.updateReturning(
      id,
      { status: 'processing', attempt: raw('attempt + 1') },
      { status: { $in: statuses } },
    );
    return task ? { task, attempt: task.attempt } : null;
  }

  /**
   * processing -> completed, only while `attempt` still holds the task.
   * Returns false when the task was canceled or taken over meanwhile.
   */
  async completeIfHeld(id: string, attempt: number): Promise<boolean> {
    return (await this.updateReturning(id, { status: 'completed' }, { status: 'processing', attempt })) !== null;
  }

  /** Whether a task with this id exists at all (to tell a poison message from a duplicate). */
  async exists(id: string): Promise<boolean> {
    return this.run(async (em) => (await em.count(TaskSchema, { id })) > 0);
  }

  private async updateReturning(id: string, changes: Record<string, unknown>, guard: Record<string, unknown>): Promise<Task | null> {
    return this.run(async (em) => {
      const rows: Record<string, unknown>[] = await em
        .createQueryBuilder(TaskSchema)
        .update({ ...changes, updatedAt: raw('clock_timestamp()') })
        .where({ id, ...guard })
        .returning('*')
        .execute('all', false);
      const row = rows[0];
      return row ? em.map(TaskSchema, row) : null;
    });
  }

  private async run<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    try {
      return await work(this.orm.em.fork());
    } catch (error) {
      throw translateDatabaseError(error);
    }
  }
}
