import type { ServiceImpl } from '@connectrpc/connect';
import { TaskService } from '@taskproc/contract';
import { UnavailableError, type Task, type TaskFailureStore, type TaskStore } from '@taskproc/core';
import { createRetryTask } from './retry-task.js';
import { toTaskMessage } from './task-view.js';
import { validateContent, validateTaskId } from './validation.js';

export interface TaskServiceDeps {
  store: TaskStore;
  /** Retries of failed tasks; without it (a partial service in a test) RetryTask answers UNIMPLEMENTED. */
  failures?: TaskFailureStore;
  /**
   * Inserts a pending task with its outbox entry and resolves once both are
   * committed (see group-commit.ts); `signal` is the request's, so a create
   * still waiting when its deadline passes is dropped.
   */
  createTask(content: string, signal?: AbortSignal): Promise<Task>;
  /** Called after a create commits, so the outbox relay publishes at once. */
  onTaskCommitted(taskId: string): void;
  /** Whether the database answers; backs the REST /health route. */
  probeDatabase(): Promise<boolean>;
}

/**
 * The TaskService handlers: validate, call one store function, shape the
 * answer. Errors are typed (see @taskproc/core errors) and mapped to Connect
 * codes by the error-mapping interceptor.
 */
// Partial while the round-2 RPCs are being built: ConnectRPC answers
// UNIMPLEMENTED for a method without a handler.
export function createTaskService(deps: TaskServiceDeps): Partial<ServiceImpl<typeof TaskService>> {
  return {
    async createTask(request, context) {
      const task = await deps.createTask(validateContent(request.content), context.signal);
      deps.onTaskCommitted(task.id);
      return { task: toTaskMessage(task) };
    },

    async getTask(request) {
      return { task: toTaskMessage(await deps.store.get(validateTaskId(request.taskId))) };
    },

    async cancelTask(request) {
      return { task: toTaskMessage(await deps.store.cancelIfNotFinal(validateTaskId(request.taskId))) };
    },

    ...(deps.failures ? { retryTask: createRetryTask({ failures: deps.failures, onTaskCommitted: deps.onTaskCommitted }) } : {}),

    async checkHealth() {
      if (!(await deps.probeDatabase())) {
        throw new UnavailableError('the database is unavailable');
      }
      return { status: 'ok' };
    },
  };
}
