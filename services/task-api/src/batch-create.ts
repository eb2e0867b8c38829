import type { MessageInitShape } from '@bufbuild/protobuf';
import type { HandlerContext } from '@connectrpc/connect';
import type { BatchCreateTasksRequest, BatchCreateTasksResponseSchema } from '@taskproc/contract';
import { InvalidArgumentError, type NewTask, type Task } from '@taskproc/core';
import { tenantOf } from './auth/tenant.js';
import { validateCreateRequest, type CreateRequestItem } from './create-options.js';
import { toTaskMessage } from './task-view.js';

/** Most items one BatchCreateTasks call takes. */
export const MAX_BATCH_ITEMS = 1_000;

/**
 * Every item of a BatchCreateTasks request, validated before anything is
 * stored: the first bad item's index and field are named and nothing is
 * created.
 */
export function validateBatchCreateRequest(request: BatchCreateTasksRequest, now: number): CreateRequestItem[] {
  if (request.requests.length === 0) throw new InvalidArgumentError('requests must hold 1 to 1,000 items, got none');
  if (request.requests.length > MAX_BATCH_ITEMS) {
    throw new InvalidArgumentError(`requests must hold 1 to 1,000 items, got ${request.requests.length}`);
  }
  return request.requests.map((item, index) => validateCreateRequest(item, now, index));
}

export interface BatchCreateDeps {
  createTasks(items: NewTask[]): Promise<Task[]>;
  onTaskCommitted(taskId: string): void;
}

/** BatchCreateTasks: validate every item, create all for the caller's tenant in one transaction, answer in request order. */
export function createBatchCreateHandler(deps: BatchCreateDeps) {
  return async (request: BatchCreateTasksRequest, context: HandlerContext): Promise<MessageInitShape<typeof BatchCreateTasksResponseSchema>> => {
    const tenant = tenantOf(context);
    const tasks = await deps.createTasks(validateBatchCreateRequest(request, Date.now()).map((item) => ({ ...item, tenant })));
    // One wake-up publishes the whole batch.
    deps.onTaskCommitted(tasks[0]!.id);
    return { tasks: tasks.map(toTaskMessage) };
  };
}
