import { Code } from '@connectrpc/connect';
import type { Task } from '@taskproc/contract';
import type { TaskClient } from './client.js';
import { TaskClientError } from './errors.js';
import { isFinal } from './task-json.js';
import { abortableSleep } from './abortable-sleep.js';

export interface WatchTaskOptions {
  /** Aborting ends the iteration with the signal's reason. */
  signal?: AbortSignal;
  /** How long the whole watch may last (default: no limit); then the stream ends with DEADLINE_EXCEEDED. */
  timeoutMs?: number;
  /**
   * Watch again, up to this many times in a row (default 5), when the stream
   * ends early with UNAVAILABLE: task-api shutting down, the watcher cut off
   * for falling behind, or the connection lost. The new stream starts with
   * the task as it is then; a state already yielded is not repeated.
   */
  reconnects?: number;
}

/**
 * The task as it is now, then the task after each change of status, in
 * order, until a final status (completed, canceled, failed): the WatchTask
 * stream, without its keep-alive messages. Rejects with the client's errors
 * (TaskNotFoundError before anything for an unknown task, ...).
 */
export async function* watchTask(client: Pick<TaskClient, 'watchTask'>, taskId: string, options: WatchTaskOptions = {}): AsyncGenerator<Task> {
  const { signal, reconnects = 5 } = options;
  const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
  let last: Task | undefined;
  for (let failures = 0; ; ) {
    // Each stream has an abort controller of its own, aborted when it ends
    // however it ends, so no request, socket or timer outlives it (a
    // deadline timer left behind would keep a CLI process alive).
    const stream = new AbortController();
    const onAbort = () => stream.abort(signal!.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    let timedOut = false;
    const timer =
      deadline === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            stream.abort();
          }, Math.max(1, deadline - Date.now()));
    try {
      // timeoutMs 0: no deadline from the client's defaults; this function keeps its own.
      for await (const message of client.watchTask({ taskId }, { signal: stream.signal, timeoutMs: 0 })) {
        const task = message.task;
        if (!task) continue; // keep-alive
        if (last && sameState(last, task)) continue;
        last = task;
        failures = 0;
        yield task;
        if (isFinal(task.status)) return;
      }
      // Ended without a final status: only a cut connection does that.
      throw new TaskClientError(`the watch of task ${taskId} ended early`, Code.Unavailable);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (timedOut) throw new TaskClientError(`the watch of task ${taskId} ran out of time`, Code.DeadlineExceeded);
      const retryable = error instanceof TaskClientError && error.code === Code.Unavailable;
      if (!retryable || failures >= reconnects) throw error;
      failures += 1;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      stream.abort();
    }
    await abortableSleep(Math.min(5_000, 100 * 2 ** failures), signal);
  }
}

function sameState(a: Task, b: Task): boolean {
  return a.status === b.status && a.updatedAt?.seconds === b.updatedAt?.seconds && a.updatedAt?.nanos === b.updatedAt?.nanos;
}

