import { Code } from '@connectrpc/connect';
import type { TaskStatus, Task } from '@taskproc/contract';
import type { TaskClient } from './client.js';
import { TaskClientError } from './errors.js';
import { statusName } from './task-json.js';
import { watchTask } from './watch-task.js';
import { abortableSleep } from './abortable-sleep.js';

export interface WaitForStatusOptions {
  /** Give up after this long (default 60 s); the promise rejects with WaitTimeoutError. */
  timeoutMs?: number;
  /**
   * Time between two reads of the task (default 250 ms), when polling: only
   * with a client that has no watchTask, or a service without WatchTask.
   */
  intervalMs?: number;
  /** Aborting rejects the promise with the signal's reason. */
  signal?: AbortSignal;
  /** Called with the task each time its status differs from the last one seen (and once at first). */
  onStatus?: (task: Task) => void;
}

/** The task did not reach one of the awaited statuses in time; `lastTask` is what was seen last. */
export class WaitTimeoutError extends Error {
  override name = 'WaitTimeoutError';

  constructor(
    readonly taskId: string,
    readonly awaited: readonly TaskStatus[],
    readonly lastTask: Task | undefined,
    timeoutMs: number,
  ) {
    const last = lastTask ? statusName(lastTask.status) : 'nothing';
    super(`task ${taskId} did not become ${listOfNames(awaited.map(statusName))} within ${timeoutMs} ms (last status: ${last})`);
  }
}

/**
 * Follows the task until its status is one of `statuses`, and returns it
 * then. With a client that has watchTask it follows the WatchTask stream (a
 * change arrives as it commits, no polling); against a service without
 * WatchTask (UNIMPLEMENTED), or a client with getTask only, it polls GetTask.
 * Rejects with the client's errors (TaskNotFoundError, …), with
 * WaitTimeoutError, or with the signal's reason when aborted. Waiting for a
 * status the task can no longer reach (e.g. PROCESSING after it was
 * canceled) ends with WaitTimeoutError unless `statuses` includes the final
 * ones.
 */
export async function waitForStatus(
  client: Pick<TaskClient, 'getTask'> & Partial<Pick<TaskClient, 'watchTask'>>,
  taskId: string,
  statuses: TaskStatus | readonly TaskStatus[],
  options: WaitForStatusOptions = {},
): Promise<Task> {
  const awaited = Array.isArray(statuses) ? statuses : [statuses as TaskStatus];
  const { timeoutMs = 60_000 } = options;
  const started = Date.now();
  const seen: { last?: Task } = {};
  if (client.watchTask) {
    const streamed = await followStream(client as Pick<TaskClient, 'watchTask'>, taskId, awaited, options, seen);
    if (streamed) return streamed;
  }
  // No WatchTask, or the task rests in a final status that was not awaited
  // (only a retry of a failed task changes it again): read it until the time
  // is up, as a poll always did.
  const remaining = Math.max(0, timeoutMs - (Date.now() - started));
  return poll(client, taskId, awaited, { ...options, timeoutMs: remaining }, seen.last, timeoutMs);
}

/** The awaited task from the stream; undefined when the service has no WatchTask. */
async function followStream(
  client: Pick<TaskClient, 'watchTask'>,
  taskId: string,
  awaited: readonly TaskStatus[],
  { timeoutMs = 60_000, signal, onStatus }: WaitForStatusOptions,
  seen: { last?: Task },
): Promise<Task | undefined> {
  try {
    for await (const task of watchTask(client, taskId, { signal, timeoutMs })) {
      if (!seen.last || seen.last.status !== task.status) onStatus?.(task);
      seen.last = task;
      if (awaited.includes(task.status)) return task;
    }
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    if (error instanceof TaskClientError && error.code === Code.Unimplemented) return undefined;
    if (error instanceof TaskClientError && error.code === Code.DeadlineExceeded) {
      throw new WaitTimeoutError(taskId, awaited, seen.last, timeoutMs);
    }
    throw error;
  }
  return undefined;
}

async function poll(
  client: Pick<TaskClient, 'getTask'>,
  taskId: string,
  awaited: readonly TaskStatus[],
  { timeoutMs = 60_000, intervalMs = 250, signal, onStatus }: WaitForStatusOptions,
  seenBefore: Task | undefined,
  reportedTimeoutMs = timeoutMs,
): Promise<Task> {
  const deadline = Date.now() + timeoutMs;
  let last: Task | undefined = seenBefore;
  for (;;) {
    signal?.throwIfAborted();
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new WaitTimeoutError(taskId, awaited, last, reportedTimeoutMs);
    // A request that would outlive the deadline is cut at the deadline.
    const { task } = await client.getTask({ taskId }, { signal, timeoutMs: remaining }).catch((error: unknown) => {
      if (error instanceof TaskClientError && error.code === Code.DeadlineExceeded && Date.now() >= deadline) {
        throw new WaitTimeoutError(taskId, awaited, last, reportedTimeoutMs);
      }
      throw signal?.aborted ? signal.reason : error;
    });
    if (!task) throw new TaskClientError(`the service answered GetTask for ${taskId} without a task`, Code.Internal);
    if (!last || last.status !== task.status) onStatus?.(task);
    last = task;
    if (awaited.includes(task.status)) return task;
    await abortableSleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())), signal);
  }
}


/** "completed", "completed or canceled", "completed, canceled or failed". */
function listOfNames(names: string[]): string {
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
}
