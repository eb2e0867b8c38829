import { isDatabaseUnavailable, type TaskTopology } from '@taskproc/core';

/** The broker returned (basic.return) messages of a batch: the task queue is gone. */
export class UnroutableError extends Error {
  constructor(queue: string, count: number) {
    super(`the broker could not route ${count} message(s) to ${queue} (the queue does not exist)`);
    this.name = 'UnroutableError';
  }
}

export interface BrokerFailure {
  /** One line for the log and for readiness: what is wrong, in an operator's terms. */
  text: string;
  /** Retrying will not help until someone changes the broker or the settings. */
  needsOperator: boolean;
}

// AMQP reply codes (channel or connection close) that no retry can cure.
const PRECONDITION_FAILED = 406;
const ACCESS_REFUSED = 403;
const NOT_ALLOWED = 530;

/** Says why the relay could not publish, from what amqplib or the database threw. */
export function describeBrokerFailure(error: unknown, topology: TaskTopology): BrokerFailure {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof UnroutableError) {
    return { text: `${message}; declaring it again`, needsOperator: false };
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (code === PRECONDITION_FAILED) {
    return {
      text:
        `the broker refused the task topology (${message}): ${topology.taskQueue} exists with other arguments; ` +
        'task-api and the processors must use the settings it was declared with (QUEUE_DELIVERY_LIMIT), or the queue must be deleted and declared again',
      needsOperator: true,
    };
  }
  if (code === ACCESS_REFUSED || code === NOT_ALLOWED) {
    return { text: `the broker refused access (${message}); check AMQP_URL's user and vhost`, needsOperator: true };
  }
  if (isDatabaseUnavailable(error)) return { text: `the database is unavailable (${message})`, needsOperator: false };
  return { text: `the broker is unreachable or failed (${message})`, needsOperator: false };
}
