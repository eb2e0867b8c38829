import { Code } from '@connectrpc/connect';
import type { TaskStatus, Task } from '@taskproc/contract';
import type { TaskClient } from './client.js';
import { TaskClientError } from './errors.js';
import { statusName } from './task-json.js';

export interface WaitForStatusOptions {
  /** Give up after this long (default 60 s); the promise rejects with WaitTimeoutError. */
  timeoutMs?: number;
  /** Time between two reads of the task (default 250 ms). */
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
 * Reads the task until its status is one of `statuses`, and returns it then.
 * TaskService has no streaming RPC, so this polls GetTask. Rejects with the
 * client's errors (TaskNotFoundError, …), with WaitTimeoutError, or with the
 * signal's reason when aborted. Waiting for a status the task can no longer
 * reach (e.g. PROCESSING after it was canceled) ends with WaitTimeoutError
 * unless `statuses` includes the final ones.
 */
export async function waitForStatus(
  client: Pick<TaskClient, 'getTask'>,
  taskId: string,
  statuses: TaskStatus | readonly TaskStatus[],
  { timeoutMs = 60_000, intervalMs = 250, signal, onStatus }: WaitForStatusOptions = {},
): Promise<Task> {
  const awaited = Array.isArray(statuses) ? statuses : [statuses as TaskStatus];
  const deadline = Date.now() + timeoutMs;
  let last: Task | undefined;
  for (;;) {
    signal?.throwIfAborted();
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new WaitTimeoutError(taskId, awaited, last, timeoutMs);
    // A request that would outlive the deadline is cut at the deadline.
    const { task } = await client.getTask({ taskId }, { signal, timeoutMs: remaining }).catch((error: unknown) => {
      if (error instanceof TaskClientError && error.code === Code.DeadlineExceeded && Date.now() >= deadline) {
        throw new WaitTimeoutError(taskId, awaited, last, timeoutMs);
      }
      throw signal?.aborted ? signal.reason : error;
    });
    if (!task) throw new TaskClientError(`the service answered GetTask for ${taskId} without a task`, Code.Internal);
    if (!last || last.status !== task.status) onStatus?.(task);
    last = task;
    if (awaited.includes(task.status)) return task;
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())), signal);
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** "completed", "completed or canceled", "completed, canceled or failed". */
function listOfNames(names: string[]): string {
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
}
