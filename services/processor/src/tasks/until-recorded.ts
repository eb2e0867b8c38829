import { backoffDelay, sleep, UnavailableError, type Logger } from '@taskproc/core';

/**
 * Runs a database step until the database answers. While it is unreachable
 * the message stays unacknowledged in our hands instead of being requeued:
 * a quorum queue counts every return toward the delivery limit, so
 * requeueing during an outage would dead-letter healthy tasks.
 *
 * `step` is told whether an earlier try failed, because a failure can be
 * ambiguous (the statement may have committed before the connection broke).
 * Errors other than UnavailableError, and the signal's abort, propagate.
 */
export async function untilRecorded<T>(
  step: (retrying: boolean) => Promise<T>,
  signal: AbortSignal,
  logger: Logger,
  what: string,
): Promise<T> {
  for (let failures = 0; ; failures++) {
    try {
      return await step(failures > 0);
    } catch (error) {
      if (!(error instanceof UnavailableError)) throw error;
      const delayMs = backoffDelay(failures, 200, 5_000);
      // The first failure and then every tenth, so an outage does not flood the log.
      if (failures % 10 === 0) logger.warn({ err: error.cause ?? error, delayMs, failures: failures + 1 }, `database unavailable during ${what}; retrying`);
      await sleep(delayMs, signal);
    }
  }
}
