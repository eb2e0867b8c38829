import { performance } from 'node:perf_hooks';
import type { ConsumeMessage } from 'amqplib';
import { backoffDelay, decodeTaskMessage, sleep, type Logger } from '@taskproc/core';
import type { Outcome, ProcessorEvents } from '../events.js';
import type { TaskSteps } from './batched-steps.js';
import { DeliveryAborted } from './delivery-aborted.js';
import type { RunningDelivery, RunningTasks } from './running-tasks.js';
import { untilRecorded } from './until-recorded.js';
import { workSpan } from '../telemetry/message-tracing.js';
import { performWork } from './work.js';

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

export interface TaskRunnerDeps {
  /** Claim, complete, exists: each one guarded statement (batched with its neighbours, see batched-steps.ts). */
  store: TaskSteps;
  running: RunningTasks;
  events: ProcessorEvents;
  logger: Logger;
  processingDurationMs: number;
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
 * Drives one task message to its outcome: claim, work, complete, each step
 * one guarded update (TaskStore), and says whether the message may be
 * acknowledged. It answers 'ack' only once the database holds the outcome.
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
    logger.debug({ attempt: claim.attempt }, 'claimed');
    this.deps.events.emit('claimed', { taskId, attempt: claim.attempt });

    await workSpan(taskId, claim.attempt, () => performWork(this.deps.processingDurationMs, signal));

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
