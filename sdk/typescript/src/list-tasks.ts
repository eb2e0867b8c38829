import type { CallOptions } from '@connectrpc/connect';
import { TaskStatus, type ListTasksResponse, type Task } from '@taskproc/contract';
import type { TaskClient } from './client.js';

export interface ListTasksOptions {
  /** Only tasks of this status (default: all). */
  status?: TaskStatus;
  /** Tasks per page: 0 or unset means 50, above 1,000 means 1,000. */
  pageSize?: number;
  /** From a previous page's nextPageToken (same status filter); unset for the first page. */
  pageToken?: string;
  signal?: AbortSignal;
  /** Deadline of each call. */
  timeoutMs?: number;
}

/** One page of tasks, newest first; nextPageToken is "" on the last page. */
export async function listTasks(client: Pick<TaskClient, 'listTasks'>, options: ListTasksOptions = {}): Promise<ListTasksResponse> {
  const { status = TaskStatus.UNSPECIFIED, pageSize = 0, pageToken = '', signal, timeoutMs } = options;
  return client.listTasks({ status, pageSize, pageToken }, callOptions(signal, timeoutMs));
}

/**
 * Every task, newest first, page after page: each task that existed when the
 * walk began comes exactly once, whatever is created meanwhile. Stop early
 * by breaking out of the loop.
 */
export async function* listAllTasks(client: Pick<TaskClient, 'listTasks'>, options: Omit<ListTasksOptions, 'pageToken'> = {}): AsyncGenerator<Task> {
  let pageToken = '';
  do {
    const page = await listTasks(client, { ...options, pageToken });
    yield* page.tasks;
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
}

function callOptions(signal: AbortSignal | undefined, timeoutMs: number | undefined): CallOptions {
  return { ...(signal ? { signal } : {}), ...(timeoutMs !== undefined ? { timeoutMs } : {}) };
}
