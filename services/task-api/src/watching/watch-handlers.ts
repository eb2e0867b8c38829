import { constants as http2Constants, type Http2ServerRequest } from 'node:http2';
import type { IncomingMessage } from 'node:http';
import { Code, ConnectError, createContextKey, type HandlerContext } from '@connectrpc/connect';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { WatchTaskRequest, WatchTaskResponseSchema, WatchTasksRequest, WatchTasksResponseSchema } from '@taskproc/contract';
import { FINAL_STATUSES, NotFoundError, UnavailableError, type Logger, type TaskChangeReader } from '@taskproc/core';
import { statusFilter } from '../listing/list-handlers.js';
import { toTaskMessage } from '../task-view.js';
import { validateTaskId } from '../validation.js';
import { KEEP_ALIVE, type WatchSubscription } from './watch-subscription.js';
import { TooManyWatchersError, type WatchHub } from './watch-hub.js';

/**
 * The Node.js request behind a call, so a stream whose client stopped
 * reading can be reset (connectNodeAdapter's contextValues sets it).
 */
export const nodeRequestKey = createContextKey<IncomingMessage | Http2ServerRequest | undefined>(undefined);

/** See resetIfStalled. */
const STALLED_RESET_MS = 10_000;

export interface WatchHandlerDeps {
  hub: WatchHub;
  reader: TaskChangeReader;
  keepAliveMs: number;
  logger: Logger;
}

const isFinal = (status: string) => (FINAL_STATUSES as readonly string[]).includes(status);

/** WatchTask: the task as it is now, then every change in commit order, until a final status. */
export async function* watchTask(deps: WatchHandlerDeps, request: WatchTaskRequest, context: HandlerContext): AsyncGenerator<MessageInitShape<typeof WatchTaskResponseSchema>> {
  const taskId = validateTaskId(request.taskId);
  const subscription = await subscribe(deps, { taskId });
  const disarm = resetIfStalled(subscription, context, deps.logger);
  try {
    // Subscribed first, then read: a change committed after this read is
    // in the queue; one the read already shows is skipped by its transition id.
    const current = await deps.reader.current(taskId);
    if (!current) throw new NotFoundError(`task ${taskId} not found`);
    subscription.skipThrough(current.transition);
    yield { task: toTaskMessage(current.task) };
    if (isFinal(current.task.status)) return;
    for (;;) {
      const next = await take(deps, subscription, context);
      if (next === KEEP_ALIVE) {
        yield {};
        continue;
      }
      yield { task: toTaskMessage(next.task) };
      if (isFinal(next.task.status)) return;
    }
  } finally {
    disarm();
    deps.hub.release(subscription);
  }
}

/** WatchTasks: every change of every task (optionally only changes into one status) from now on. */
export async function* watchTasks(deps: WatchHandlerDeps, request: WatchTasksRequest, context: HandlerContext): AsyncGenerator<MessageInitShape<typeof WatchTasksResponseSchema>> {
  const status = statusFilter(request.status);
  const subscription = await subscribe(deps, { status });
  const disarm = resetIfStalled(subscription, context, deps.logger);
  try {
    // The headers go out at once: a dashboard knows it is connected before
    // the first change.
    yield {};
    for (;;) {
      const next = await take(deps, subscription, context);
      yield next === KEEP_ALIVE ? {} : { task: toTaskMessage(next.task) };
    }
  } finally {
    disarm();
    deps.hub.release(subscription);
  }
}

async function subscribe(deps: WatchHandlerDeps, target: Parameters<WatchHub['subscribe']>[0]): Promise<WatchSubscription> {
  try {
    return await deps.hub.subscribe(target);
  } catch (error) {
    if (error instanceof TooManyWatchersError) throw new ConnectError(error.message, Code.ResourceExhausted);
    throw error;
  }
}

async function take(deps: WatchHandlerDeps, subscription: WatchSubscription, context: HandlerContext) {
  try {
    return await subscription.take(deps.keepAliveMs, context.signal);
  } catch (error) {
    if (context.signal.aborted) throw new UnavailableError('the watch stream was aborted', { cause: error });
    throw error instanceof UnavailableError ? error : new UnavailableError((error as Error).message, { cause: error });
  }
}

/**
 * A watcher cut off for falling behind is usually blocked: the handler waits
 * for a write the client does not read, and cannot send the status yet. It
 * gets the status as soon as it reads again; if it still reads nothing after
 * STALLED_RESET_MS, its stream is reset so it holds no watch slot and no
 * buffers. Returns the disarm function for the stream's end.
 */
function resetIfStalled(subscription: WatchSubscription, context: HandlerContext, logger: Logger): () => void {
  let timer: NodeJS.Timeout | undefined;
  subscription.onCutOff(() => {
    timer = setTimeout(() => {
      logger.warn({ target: subscription.target }, 'stalled watcher reset: it read nothing since it was cut off');
      resetStream(context);
    }, STALLED_RESET_MS);
    timer.unref();
  });
  return () => clearTimeout(timer);
}

/** Resets the HTTP/2 stream (or closes the HTTP/1.1 connection) of a call. */
export function resetStream(context: HandlerContext): void {
  const request = context.values.get(nodeRequestKey);
  if (!request) return;
  if ('stream' in request && request.stream) request.stream.close(http2Constants.NGHTTP2_CANCEL);
  else request.socket.destroy();
}

