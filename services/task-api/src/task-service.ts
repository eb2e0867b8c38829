import type { ServiceImpl } from '@connectrpc/connect';
import { TaskService } from '@taskproc/contract';
import { UnavailableError, conflictError, type CreateOutcome, type NewTask, type Task, type TaskFailureStore, type TaskStore } from '@taskproc/core';
import { tenantOf } from './auth/tenant.js';
import { createBatchCreateHandler } from './batch-create.js';
import { validateCreateRequest } from './create-options.js';
import { toStatsMessage, type TaskStatsSource } from './task-stats.js';
import { listTaskEvents, listTasks } from './listing/list-handlers.js';
import { createRetryTask } from './retry-task.js';
import { toTaskMessage } from './task-view.js';
import { validateTaskId } from './validation.js';
import { watchTask, watchTasks } from './watching/watch-handlers.js';
import type { Watching } from './watching/watching.js';

export interface TaskServiceDeps {
  store: TaskStore;
  /** Retries of failed tasks (RetryTask). */
  failures: TaskFailureStore;
  /**
   * Inserts a pending task with its outbox entry (and idempotency key) and
   * resolves once committed, or answers with the task an earlier create with
   * the same request_id made, or a conflict (see group-commit.ts); `signal`
   * is the request's, so a create still waiting when its deadline passes is
   * dropped.
   */
  createTask(item: NewTask, signal?: AbortSignal): Promise<CreateOutcome>;
  /** Creates every item in one transaction, or none (BatchCreateTasks). */
  createTasks(items: NewTask[]): Promise<Task[]>;
  /** Called after a create commits, so the outbox relay publishes at once. */
  onTaskCommitted(taskId: string): void;
  /** Whether the database answers; backs the REST /health route. */
  probeDatabase(): Promise<boolean>;
  /** Counts by status and the queue's state (GetTaskStats, see task-stats.ts). */
  stats: TaskStatsSource;
  /** ListTasks, ListTaskEvents, WatchTask and WatchTasks (watching/watching.ts). */
  watching: Pick<Watching, 'listing' | 'watch'>;
}

/**
 * The TaskService handlers: validate, call one store function, shape the
 * answer. Every store call names the caller's tenant (tenantOf), which
 * scopes its SQL. Errors are typed (see @taskproc/core errors) and mapped to
 * Connect codes by the error-mapping interceptor.
 */
export function createTaskService(deps: TaskServiceDeps): ServiceImpl<typeof TaskService> {
  return {
    async createTask(request, context) {
      const outcome = await deps.createTask({ ...validateCreateRequest(request, Date.now()), tenant: tenantOf(context) }, context.signal);
      if (outcome.kind === 'conflict') throw conflictError(outcome.requestId);
      if (outcome.kind === 'created') deps.onTaskCommitted(outcome.task.id);
      return { task: toTaskMessage(outcome.task) };
    },

    batchCreateTasks: createBatchCreateHandler(deps),

    async getTask(request, context) {
      return { task: toTaskMessage(await deps.store.get(tenantOf(context), validateTaskId(request.taskId))) };
    },

    async cancelTask(request, context) {
      return { task: toTaskMessage(await deps.store.cancelIfNotFinal(tenantOf(context), validateTaskId(request.taskId))) };
    },

    retryTask: createRetryTask({ failures: deps.failures, onTaskCommitted: deps.onTaskCommitted }),
    async getTaskStats(_request, context) {
      return toStatsMessage(await deps.stats.read(tenantOf(context)));
    },

    listTasks: (request, context) => listTasks(deps.watching.listing, request, tenantOf(context)),
    listTaskEvents: (request, context) => listTaskEvents(deps.watching.listing, request, tenantOf(context)),
    watchTask: (request, context) => watchTask(deps.watching.watch, request, context),
    watchTasks: (request, context) => watchTasks(deps.watching.watch, request, context),

    async checkHealth() {
      if (!(await deps.probeDatabase())) {
        throw new UnavailableError('the database is unavailable');
      }
      return { status: 'ok' };
    },
  };
}
