import { performance } from 'node:perf_hooks';
import type { ConsumeMessage } from 'amqplib';
import { backoffDelay, decodeTaskMessage, sleep, type Claim, type Logger } from '@taskproc/core';
import type { TaskHandler } from '@taskproc/handler';
import type { Outcome, ProcessorEvents } from '../events.js';
import type { TaskSteps } from './batched-steps.js';
import { DeliveryAborted } from './delivery-aborted.js';
import { failureMessage } from './failure-message.js';
import { runAttempt } from './run-attempt.js';
import type { RunningDelivery, RunningTasks } from './running-tasks.js';
import { untilRecorded } from './until-recorded.js';
import { workSpan } from '../telemetry/message-tracing.js';

// Pause before returning a message after an unexpected failure: 0.5 s after
// the first delivery, doubling up to 10 s.
const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 10_000;

/** Deliveries before this one, as the quorum queue counts them. */
function deliveryCount(message: ConsumeMessage): number {
  const count = Number(message.properties.headers?.['x-delivery-count'] ?? 0);
  return Number.isFinite(count) ? count : 0;
}

/** What the consumer does with the message once the runner is done with it. */
export type Disposition = 'ack' | 'requeue';

/** Sets a message aside in the dead-letter queue; resolves once the broker has confirmed the copy. */
export type DeadLetterFn = (message: ConsumeMessage, reason: string) => Promise<void>;

/** How attempts run and what a failed or interrupted one leads to (see ProcessorConfig). */
export interface AttemptPolicy {
  timeoutMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  maxInterruptions: number;
}

export interface TaskRunnerDeps {
  /** Claim, complete, fail, exists: each one guarded statement (see batched-steps.ts). */
  store: TaskSteps;
  running: RunningTasks;
  events: ProcessorEvents;
  logger: Logger;
  /** The work: the module TASK_HANDLER names, or the default wait. */
  handler: TaskHandler;
  policy: AttemptPolicy;
}

interface Settlement {
  outcome: Outcome;
  disposition: Disposition;
}

/** The runner's verdict on one message; the consumer carries out the disposition. */
export interface HandledMessage extends Settlement {
  taskId: string | null;
}

/**
 * Drives one task message to its outcome: claim, run the handler, then
 * complete the task or record the failed attempt (back to pending with a
 * backoff, or failed after the last one), each step one guarded update, and
 * says whether the message may be acknowledged. It answers 'ack' only once
 * the database holds the outcome. An interrupted attempt (cancel, channel
 * loss, shutdown) records nothing: it is not a failed one.
 */
export class TaskRunner {
  constructor(private readonly deps: TaskRunnerDeps) {}

  async handle(message: ConsumeMessage, deadLetter: DeadLetterFn): Promise<HandledMessage> {
    const decoded = decodeTaskMessage(message.content);
    if ('error' in decoded) {
      return { taskId: null, ...(await this.setAside(message, decoded.error, deadLetter, this.deps.logger)) };
    }
    const { taskId } = decoded;
    const logger = this.deps.logger.child({ taskId, redelivered: message.fields.redelivered });
    const delivery = this.deps.running.start(taskId);
    try {
      return { taskId, ...(await this.process(delivery, message, deadLetter, logger)) };
    } catch (error) {
      if (error instanceof DeliveryAborted) return { taskId, ...this.afterAbort(taskId, error, logger) };
      // A bug or a database refusal we do not understand. Returning the
      // message lets another try happen; a message that fails every time
      // ends at the queue's delivery limit in the dead-letter queue. The
      // pause before returning it (longer with each delivery) keeps a brief
      // fault from spending a healthy task's deliveries within milliseconds.
      const retryInMs = backoffDelay(deliveryCount(message), RETRY_BASE_MS, RETRY_MAX_MS);
      logger.error({ err: error, retryInMs }, 'task failed unexpectedly; returning its message to the queue');
      await sleep(retryInMs, delivery.signal).catch(() => undefined);
      return { taskId, outcome: 'returned', disposition: 'requeue' };
    } finally {
      delivery.finish();
    }
  }

  private async process(delivery: RunningDelivery, message: ConsumeMessage, deadLetter: DeadLetterFn, logger: Logger): Promise<Settlement> {
    const { store } = this.deps;
    const { taskId, signal } = delivery;
    // Only a redelivery may take over a task still `processing`: its first
    // holder lost the message, and the attempt bump fences that holder off.
    // After an ambiguous failure our own claim may have committed, so the
    // retry may take over too (at worst a live duplicate loses its attempt
    // and the task is still completed exactly once).
    const claim = await untilRecorded(
      (retrying) => store.claim(taskId, { reclaim: message.fields.redelivered || retrying }),
      signal,
      logger,
      'claim',
    );
    if (!claim) {
      if (!(await untilRecorded(() => store.exists(taskId), signal, logger, 'lookup'))) {
        return this.setAside(message, 'no task has this id', deadLetter, logger);
      }
      // Duplicates are normal with at-least-once delivery: the task is final,
      // canceled, or held by a live processor. Nothing to do.
      logger.debug('claim matched nothing (duplicate message, or the task is taken, canceled or final)');
      return { outcome: 'duplicate', disposition: 'ack' };
    }
    const attemptLogger = logger.child({ attempt: claim.attempt });
    // Every claim before this one either failed (counted) or was interrupted:
    // its processor died or stopped mid-attempt. A task that keeps killing its
    // processor would loop forever (through the delivery limit, the
    // dead-letter queue and the stale-task sweeper); the cap ends it.
    const interrupted = claim.attempt - 1 - claim.failedAttempts;
    if (interrupted >= this.deps.policy.maxInterruptions) return this.giveUp(taskId, claim, interrupted, signal, attemptLogger);

    attemptLogger.debug('claimed');
    this.deps.events.emit('claimed', { taskId, attempt: claim.attempt });

    const { task } = claim;
    const result = await workSpan(taskId, claim.attempt, () => runAttempt(
      this.deps.handler,
      { id: task.id, content: task.content, createdAt: task.createdAt },
      {
        signal,
        attempt: claim.attempt,
        failedAttempts: claim.failedAttempts,
        maxAttempts: this.deps.policy.maxAttempts,
        timeoutMs: this.deps.policy.timeoutMs,
        logger: attemptLogger,
      },
    ));
    if (!result.ok) return this.recordFailure(taskId, claim, result.error, signal, attemptLogger);

    const completed = await untilRecorded(() => store.completeIfHeld(taskId, claim.attempt), signal, logger, 'completion');
    if (!completed) {
      // Canceled while we worked (and the notice was missed), or taken over by
      // a redelivery: the guard kept the row as the other party left it.
      logger.info({ attempt: claim.attempt }, 'task was canceled or taken over before it could complete');
      return { outcome: 'canceled', disposition: 'ack' };
    }
    logger.info({ attempt: claim.attempt }, 'task completed');
    return { outcome: 'completed', disposition: 'ack' };
  }

  /**
   * A failed attempt: back to pending, queued again after the backoff, or
   * failed when it was the last attempt allowed. The error's message goes to
   * the task; the stack only to the log.
   */
  private async recordFailure(taskId: string, claim: Claim, error: unknown, signal: AbortSignal, logger: Logger): Promise<Settlement> {
    const { store, policy } = this.deps;
    const message = failureMessage(error);
    const failed = claim.failedAttempts + 1;
    if (failed >= policy.maxAttempts) {
      const recorded = await untilRecorded(() => store.failIfHeld(taskId, claim.attempt, message, { failedAttempt: true }), signal, logger, 'failure');
      if (!recorded) return this.lostBeforeRecording(logger);
      logger.error({ err: error, failedAttempts: failed }, 'task failed: its last attempt failed');
      return { outcome: 'failed', disposition: 'ack' };
    }
    // Exponential, jittered: base * 2^(failed - 1), capped at the maximum,
    // then somewhere between half and all of it, so tasks that failed
    // together (an outage of what the handler calls) do not return together.
    const retryInMs = backoffDelay(failed - 1, policy.retryBaseMs, policy.retryMaxMs);
    const recorded = await untilRecorded(() => store.retryLaterIfHeld(taskId, claim.attempt, message, retryInMs), signal, logger, 'failure');
    if (!recorded) return this.lostBeforeRecording(logger);
    logger.warn({ err: error, failedAttempts: failed, retryInMs }, 'attempt failed; the task is tried again after the backoff');
    return { outcome: 'retry-scheduled', disposition: 'ack' };
  }

  /** The crash-loop cap: the task is failed without another attempt. */
  private async giveUp(taskId: string, claim: Claim, interrupted: number, signal: AbortSignal, logger: Logger): Promise<Settlement> {
    const reason = `gave up after ${interrupted} interrupted attempts: the processor stopped or died during each (TASK_MAX_INTERRUPTIONS is ${this.deps.policy.maxInterruptions})`;
    const recorded = await untilRecorded(() => this.deps.store.failIfHeld(taskId, claim.attempt, reason, { failedAttempt: false }), signal, logger, 'failure');
    if (!recorded) return this.lostBeforeRecording(logger);
    logger.error({ interrupted }, 'task failed: crash-loop cap reached, not running it again');
    return { outcome: 'failed', disposition: 'ack' };
  }

  /** The guard of a failure matched nothing: canceled meanwhile, or taken over by a redelivery. */
  private lostBeforeRecording(logger: Logger): Settlement {
    logger.info('task was canceled or taken over before its failure could be recorded');
    return { outcome: 'canceled', disposition: 'ack' };
  }

  private afterAbort(taskId: string, aborted: DeliveryAborted, logger: Logger): Settlement {
    this.deps.events.emit('aborted', { taskId, reason: aborted.reason, at: performance.now() });
    if (aborted.reason === 'canceled') {
      // The notice comes from the cancel's commit: the row already says canceled.
      logger.info('task canceled; work aborted');
      return { outcome: 'canceled', disposition: 'ack' };
    }
    // The task stays `processing` until a processor re-claims the redelivered
    // message; the contract allows no way back to `pending`.
    logger.warn({ reason: aborted.reason }, 'work interrupted; the message goes back to the queue');
    return { outcome: 'returned', disposition: 'requeue' };
  }

  private async setAside(message: ConsumeMessage, reason: string, deadLetter: DeadLetterFn, logger: Logger): Promise<Settlement> {
    try {
      await deadLetter(message, reason);
    } catch (error) {
      // Without the broker's confirm the copy may not exist: keep the original.
      logger.warn({ err: error, reason }, 'could not dead-letter a message; returning it to the queue');
      return { outcome: 'returned', disposition: 'requeue' };
    }
    logger.warn({ reason, messageId: message.properties.messageId }, 'message set aside in the dead-letter queue');
    return { outcome: 'dead-lettered', disposition: 'ack' };
  }
}
