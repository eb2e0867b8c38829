import { defineHandler, sleep } from '@taskproc/handler';

/**
 * Fails on purpose for recognisable content, so the life of a failing task
 * can be watched (and tested) end to end:
 *
 * - content starting with `fail` fails every attempt: the task is tried
 *   TASK_MAX_ATTEMPTS times, with a backoff between, and ends `failed` with
 *   the error below;
 * - content `flaky:N` fails its first N attempts, then succeeds;
 * - anything else succeeds after WORK_MS.
 *
 *   TASK_HANDLER=examples/handlers/fail-on-purpose.ts make start
 */
export const WORK_MS = 100;

export default defineHandler(async (task, { signal, failedAttempts }) => {
  await sleep(WORK_MS, signal);
  if (task.content.startsWith('fail')) {
    throw new Error(`refused on purpose: the content starts with "fail"`);
  }
  const flaky = /^flaky:(\d+)$/.exec(task.content);
  if (flaky && failedAttempts < Number(flaky[1])) {
    throw new Error(`flaky on purpose: failure ${failedAttempts + 1} of ${flaky[1]}`);
  }
});
