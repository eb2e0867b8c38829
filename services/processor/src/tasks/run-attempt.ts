import type { HandlerTask, TaskHandler } from '@taskproc/handler';
import type { Logger } from '@taskproc/core';

/** The signal's reason when an attempt runs past TASK_TIMEOUT_MS. */
export class AttemptTimedOut extends Error {
  constructor(readonly timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms`);
    this.name = 'TimeoutError';
  }
}

export interface AttemptOptions {
  /** The delivery's signal: aborted on cancel, channel loss and shutdown. */
  signal: AbortSignal;
  attempt: number;
  failedAttempts: number;
  maxAttempts: number;
  timeoutMs: number;
  logger: Logger;
}

/** How an attempt ended, when it was not interrupted. */
export type AttemptResult = { ok: true } | { ok: false; error: unknown };

/**
 * Runs the handler once for a task, and returns whether the attempt
 * succeeded or failed (threw, rejected, or ran past `timeoutMs`).
 *
 * The handler's signal aborts on the timeout and on whatever aborts the
 * delivery. The processor does not wait for a handler that ignores it: the
 * attempt ends at the abort, and whatever the handler does later (resolve or
 * reject) is logged and ignored, so it holds no prefetch slot and cannot
 * complete the task.
 *
 * Rejects with the delivery signal's reason (DeliveryAborted) when the
 * delivery was aborted: a cancel, or an interruption that is not a failure
 * of the attempt, whatever the handler threw on its way out.
 */
export async function runAttempt(handler: TaskHandler, task: HandlerTask, options: AttemptOptions): Promise<AttemptResult> {
  const { signal: delivery, timeoutMs, logger } = options;
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new AttemptTimedOut(timeoutMs)), timeoutMs);
  const signal = AbortSignal.any([delivery, timeout.signal]);
  let stopWaiting: (() => void) | undefined;
  const abandoned = new Promise<never>((_, reject) => {
    stopWaiting = () => reject(signal.reason);
    if (signal.aborted) stopWaiting();
    else signal.addEventListener('abort', stopWaiting, { once: true });
  });
  const startedAt = Date.now();
  let settled = false;
  // Promise.resolve().then: a handler that throws synchronously fails the attempt too.
  const work = Promise.resolve().then(() =>
    handler(task, {
      signal,
      attempt: options.attempt,
      failedAttempts: options.failedAttempts,
      maxAttempts: options.maxAttempts,
      logger,
    }),
  );
  void work.then(
    () => {
      if (!settled) return;
      logger.warn({ lateByMs: Date.now() - startedAt }, 'an abandoned handler finished after its attempt ended; its result is ignored');
    },
    (error: unknown) => {
      if (settled) logger.debug({ err: error }, 'an abandoned handler rejected after its attempt ended');
    },
  );
  try {
    await Promise.race([work, abandoned]);
    return { ok: true };
  } catch (error) {
    if (delivery.aborted) throw delivery.reason;
    if (timeout.signal.aborted) return { ok: false, error: timeout.signal.reason };
    return { ok: false, error };
  } finally {
    settled = true;
    clearTimeout(timer);
    if (stopWaiting) signal.removeEventListener('abort', stopWaiting);
    abandoned.catch(() => undefined);
  }
}
