import { constants as http2Constants, type Http2ServerRequest } from 'node:http2';
import type { IncomingMessage } from 'node:http';
import { Code, ConnectError, createContextKey, type HandlerContext } from '@connectrpc/connect';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { WatchTaskRequest, WatchTaskResponseSchema, WatchTasksRequest, WatchTasksResponseSchema } from '@taskproc/contract';
import type { Task as TaskMessage } from '@taskproc/contract';
import { FINAL_STATUSES, UnavailableError, taskNotFound, type Logger, type TaskChange } from '@taskproc/core';
import { tenantOf } from '../auth/tenant.js';
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
  keepAliveMs: number;
  logger: Logger;
}

const isFinal = (status: string) => (FINAL_STATUSES as readonly string[]).includes(status);

// One change goes to every watcher of its task: build its message once.
const messages = new WeakMap<TaskChange, TaskMessage>();
function messageOf(change: TaskChange): TaskMessage {
  let message = messages.get(change);
  if (!message) messages.set(change, (message = toTaskMessage(change.task)));
  return message;
}

/**
 * WatchTask: the task as it is now, then every change in commit order, until
 * a final status. NOT_FOUND, as GetTask answers, for a task the caller's
 * tenant does not have.
 */
export async function* watchTask(deps: WatchHandlerDeps, request: WatchTaskRequest, context: HandlerContext): AsyncGenerator<MessageInitShape<typeof WatchTaskResponseSchema>> {
  const taskId = validateTaskId(request.taskId);
  const tenant = tenantOf(context);
  const subscription = await subscribe(deps, { tenant, taskId });
  const handlerEnded = resetIfStalled(subscription, context, deps.logger);
  try {
    // Subscribed first, then read: a change committed after this read is
    // in the queue; one the read already shows is skipped by its transition id.
    const current = await deps.hub.current(tenant, taskId);
    if (!current) throw taskNotFound(taskId);
    subscription.skipThrough(current.transition);
    yield { task: toTaskMessage(current.task) };
    if (isFinal(current.task.status)) return;
    for (;;) {
      const next = await take(deps, subscription, context);
      if (next === KEEP_ALIVE) {
        yield {};
        continue;
      }
      yield { task: messageOf(next) };
      if (isFinal(next.task.status)) return;
    }
  } finally {
    handlerEnded();
    deps.hub.release(subscription);
  }
}

/** WatchTasks: every change of every task of the caller's tenant (optionally only changes into one status) from now on. */
export async function* watchTasks(deps: WatchHandlerDeps, request: WatchTasksRequest, context: HandlerContext): AsyncGenerator<MessageInitShape<typeof WatchTasksResponseSchema>> {
  const status = statusFilter(request.status);
  const subscription = await subscribe(deps, { tenant: tenantOf(context), status });
  const handlerEnded = resetIfStalled(subscription, context, deps.logger);
  try {
    // The headers go out at once: a dashboard knows it is connected before
    // the first change.
    yield {};
    for (;;) {
      const next = await take(deps, subscription, context);
      yield next === KEEP_ALIVE ? {} : { task: messageOf(next) };
    }
  } finally {
    handlerEnded();
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
    // The client went away (or its deadline passed): nobody hears the code,
    // and it is no failure of the service. A shutdown fails the
    // subscription first, so its watchers get UNAVAILABLE above this line.
    if (context.signal.aborted && !subscription.failed) throw new ConnectError('the watch stream was canceled', Code.Canceled, undefined, undefined, error);
    throw error instanceof UnavailableError ? error : new UnavailableError((error as Error).message, { cause: error });
  }
}

/**
 * A watcher cut off for falling behind gets its UNAVAILABLE status after
 * the changes already written to it, as soon as it reads again. One that
 * still reads nothing STALLED_RESET_MS later has its stream reset, so it
 * holds no stream and no buffers any longer (the handler may be gone by
 * then: the status can sit unread in the stream's buffer).
 */
function resetIfStalled(subscription: WatchSubscription, context: HandlerContext, logger: Logger): () => void {
  let handlerEnded = false;
  subscription.onCutOff(() => {
    setTimeout(() => {
      if (resetStream(context, handlerEnded)) logger.warn({ target: subscription.target }, 'stalled watcher reset: it read nothing since it was cut off');
    }, STALLED_RESET_MS).unref();
  });
  return () => (handlerEnded = true);
}

/**
 * Resets the HTTP/2 stream of a call still open, or closes the HTTP/1.1
 * connection of a call whose handler is still writing (once it ended, the
 * connection may serve the next request). False when there was nothing to do.
 */
function resetStream(context: HandlerContext, handlerEnded: boolean): boolean {
  const request = context.values.get(nodeRequestKey);
  if (!request) return false;
  if ('stream' in request && request.stream) {
    if (request.stream.closed || request.stream.destroyed) return false;
    request.stream.close(http2Constants.NGHTTP2_CANCEL);
    return true;
  }
  const { socket } = request as IncomingMessage;
  if (handlerEnded || socket.destroyed) return false;
  socket.destroy();
  return true;
}

