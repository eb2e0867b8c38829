import { constants as http2Constants, type Http2ServerRequest } from 'node:http2';
import type { IncomingMessage } from 'node:http';
import { Code, ConnectError, createContextKey, type HandlerContext } from '@connectrpc/connect';
import { create } from '@bufbuild/protobuf';
import {
  WatchTaskResponseSchema,
  WatchTasksResponseSchema,
  type WatchTaskRequest,
  type WatchTaskResponse,
  type WatchTasksRequest,
  type WatchTasksResponse,
} from '@taskproc/contract';
import { FINAL_STATUSES, ResourceExhaustedError, UnavailableError, taskNotFound, type Logger, type TaskChange } from '@taskproc/core';
import { tenantOf } from '../auth/tenant.js';
import { statusFilter } from '../listing/list-handlers.js';
import { validateTaskId } from '../validation.js';
import { SharedResponses, wireFormatOf } from './shared-responses.js';
import { KEEP_ALIVE, type WatchSubscription } from './watch-subscription.js';
import { TooManyWatchersError, type WatchHub } from './watch-hub.js';

/**
 * The Node.js request behind a call, so a stream whose client stopped
 * reading can be reset (connectNodeAdapter's contextValues sets it).
 */
export const nodeRequestKey = createContextKey<IncomingMessage | Http2ServerRequest | undefined>(undefined);

/** See resetIfStalled. */
const STALLED_RESET_MS = 10_000;

/**
 * What a watcher refused at the process-wide limit (WATCH_MAX_STREAMS) is
 * told to wait: a slot frees only when some stream ends, which no clock
 * predicts, so a few seconds keep reconnect loops from spinning (as the
 * per-tenant cap does).
 */
export const WATCH_SERVER_FULL_RETRY_AFTER_S = 5;

export interface WatchHandlerDeps {
  hub: WatchHub;
  keepAliveMs: number;
  logger: Logger;
}

const isFinal = (status: string) => (FINAL_STATUSES as readonly string[]).includes(status);

// Each change's response is made once for all its watchers (shared-responses.ts).
const watchTaskResponses = new SharedResponses(WatchTaskResponseSchema, (task) => create(WatchTaskResponseSchema, { task }));
const watchTasksResponses = new SharedResponses(WatchTasksResponseSchema, (task) => create(WatchTasksResponseSchema, { task }));

/**
 * WatchTask: the task as it is now, then every change in commit order, until
 * a final status. NOT_FOUND, as GetTask answers, for a task the caller's
 * tenant does not have.
 */
export async function* watchTask(deps: WatchHandlerDeps, request: WatchTaskRequest, context: HandlerContext): AsyncGenerator<WatchTaskResponse> {
  const taskId = validateTaskId(request.taskId);
  const tenant = tenantOf(context);
  const format = wireFormatOf(context);
  const subscription = await subscribe(deps, { tenant, taskId });
  const handlerEnded = resetIfStalled(subscription, context, deps.logger);
  try {
    // Subscribed first, then read: a change committed after this read is
    // in the queue; one the read already shows is skipped by its transition id.
    const current = await deps.hub.current(tenant, taskId);
    if (!current) throw taskNotFound(taskId);
    subscription.skipThrough(current.transition);
    // Watchers arriving together share the read, hence the change object.
    yield watchTaskResponses.of(current, format);
    if (isFinal(current.task.status)) return;
    subscription.follow(deps.keepAliveMs, context.signal);
    for (;;) {
      const next = await take(subscription, context);
      if (next === KEEP_ALIVE) {
        yield watchTaskResponses.empty;
        continue;
      }
      yield watchTaskResponses.of(next, format);
      if (isFinal(next.task.status)) return;
    }
  } finally {
    handlerEnded();
    deps.hub.release(subscription);
  }
}

/** WatchTasks: every change of every task of the caller's tenant (optionally only changes into one status) from now on. */
export async function* watchTasks(deps: WatchHandlerDeps, request: WatchTasksRequest, context: HandlerContext): AsyncGenerator<WatchTasksResponse> {
  const status = statusFilter(request.status);
  const format = wireFormatOf(context);
  const subscription = await subscribe(deps, { tenant: tenantOf(context), status });
  const handlerEnded = resetIfStalled(subscription, context, deps.logger);
  try {
    // The headers go out at once: a dashboard knows it is connected before
    // the first change.
    yield watchTasksResponses.empty;
    subscription.follow(deps.keepAliveMs, context.signal);
    for (;;) {
      const next = await take(subscription, context);
      yield next === KEEP_ALIVE ? watchTasksResponses.empty : watchTasksResponses.of(next, format);
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
    if (error instanceof TooManyWatchersError) {
      throw new ResourceExhaustedError(error.message, { cause: error, retryAfterSeconds: WATCH_SERVER_FULL_RETRY_AFTER_S });
    }
    throw error;
  }
}

/**
 * The watcher's next change (or KEEP_ALIVE): a queued one at once, without a
 * promise, else the wait for the next push. A failure ends the stream with
 * takeFailure()'s error.
 */
function take(subscription: WatchSubscription, context: HandlerContext): TaskChange | typeof KEEP_ALIVE | Promise<TaskChange | typeof KEEP_ALIVE> {
  let queued: TaskChange | undefined;
  try {
    queued = subscription.poll();
  } catch (error) {
    throw takeFailure(error, subscription, context);
  }
  return queued ?? subscription.wait(context.signal).catch((error: unknown) => Promise.reject(takeFailure(error, subscription, context)));
}

/** What a take that threw ends the stream with. */
function takeFailure(error: unknown, subscription: WatchSubscription, context: HandlerContext): Error {
  // The client went away (or its deadline passed): nobody hears the code,
  // and it is no failure of the service. A shutdown fails the
  // subscription first, so its watchers get UNAVAILABLE.
  if (context.signal.aborted && !subscription.failed) return new ConnectError('the watch stream was canceled', Code.Canceled, undefined, undefined, error);
  return error instanceof UnavailableError ? error : new UnavailableError((error as Error).message, { cause: error });
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

