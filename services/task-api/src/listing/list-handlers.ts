import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { TimestampSchema } from '@bufbuild/protobuf/wkt';
import {
  TaskEventSchema,
  TaskStatus,
  type ListTaskEventsRequest,
  type ListTaskEventsResponseSchema,
  type ListTasksRequest,
  type ListTasksResponseSchema,
} from '@taskproc/contract';
import { InvalidArgumentError, splitTimestamp, type TaskListing, type TaskStatusName } from '@taskproc/core';
import { STATUS_TO_PROTO, toTaskMessage } from '../task-view.js';
import { validateTaskId } from '../validation.js';
import type { PageTokenCodec } from './page-token.js';

/** AIP-158: 0 (unset) means the default; above the maximum means the maximum. */
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1_000;

export interface ListHandlerDeps {
  listing: TaskListing;
  pageTokens: PageTokenCodec;
}

const PROTO_TO_STATUS = new Map<TaskStatus, TaskStatusName>(
  Object.entries(STATUS_TO_PROTO).map(([name, value]) => [value, name as TaskStatusName]),
);

/** A status filter: null for TASK_STATUS_UNSPECIFIED (all), INVALID_ARGUMENT for a value outside the enum. */
export function statusFilter(status: TaskStatus): TaskStatusName | null {
  if (status === TaskStatus.UNSPECIFIED) return null;
  const name = PROTO_TO_STATUS.get(status);
  if (!name) throw new InvalidArgumentError(`status must be one of ${[...PROTO_TO_STATUS.values()].join(', ')}`);
  return name;
}

export function pageSize(requested: number): number {
  if (requested < 0) throw new InvalidArgumentError(`page_size must not be negative, got ${requested}`);
  if (requested === 0) return DEFAULT_PAGE_SIZE;
  return Math.min(requested, MAX_PAGE_SIZE);
}

/** ListTasks: one page of the tenant's tasks; its token pages on only for the same tenant and filter. */
export async function listTasks(deps: ListHandlerDeps, request: ListTasksRequest, tenant: string): Promise<MessageInitShape<typeof ListTasksResponseSchema>> {
  const status = statusFilter(request.status);
  const limit = pageSize(request.pageSize);
  const after = request.pageToken === '' ? null : deps.pageTokens.decode(request.pageToken, { tenant, status });
  const page = await deps.listing.page({ tenant, status, after, limit });
  return {
    tasks: page.tasks.map(toTaskMessage),
    nextPageToken: page.next ? deps.pageTokens.encode({ tenant, status, position: page.next }) : '',
  };
}

/** ListTaskEvents: the history of one of the tenant's tasks (NOT_FOUND for any other). */
export async function listTaskEvents(
  deps: ListHandlerDeps,
  request: ListTaskEventsRequest,
  tenant: string,
): Promise<MessageInitShape<typeof ListTaskEventsResponseSchema>> {
  const events = await deps.listing.events(tenant, validateTaskId(request.taskId));
  return {
    events: events.map((event) =>
      create(TaskEventSchema, {
        status: STATUS_TO_PROTO[event.status],
        attempt: event.attempt,
        at: create(TimestampSchema, splitTimestamp(event.at)),
        error: event.error ?? undefined,
      }),
    ),
  };
}
