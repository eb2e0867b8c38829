import type { HandlerContext } from '@connectrpc/connect';
import type { RetryTaskRequest, RetryTaskResponse } from '@taskproc/contract';
import type { TaskFailureStore } from '@taskproc/core';
import { tenantOf } from './auth/tenant.js';
import { toTaskMessage } from './task-view.js';
import { validateTaskId } from './validation.js';

export interface RetryTaskDeps {
  failures: Pick<TaskFailureStore, 'retryIfFailed'>;
  /** Called after the retry commits, so the outbox relay publishes at once. */
  onTaskCommitted(taskId: string): void;
}

/**
 * RetryTask: a failed task goes back to pending with its attempts reset and
 * is queued through the outbox, in one guarded statement. NOT_FOUND for no
 * such task of the caller's tenant, FAILED_PRECONDITION (naming the status)
 * for any task that is not failed, INVALID_ARGUMENT for a malformed id.
 */
export function createRetryTask(deps: RetryTaskDeps) {
  return async (request: RetryTaskRequest, context: HandlerContext): Promise<Partial<RetryTaskResponse>> => {
    const task = await deps.failures.retryIfFailed(tenantOf(context), validateTaskId(request.taskId));
    deps.onTaskCommitted(task.id);
    return { task: toTaskMessage(task) };
  };
}
