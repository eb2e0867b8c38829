import { defineHandler } from '@taskproc/handler';

/**
 * Work that never ends on its own, to see TASK_TIMEOUT_MS at work:
 *
 * - by default it waits until its signal aborts (a timeout, a cancel, a
 *   shutdown), then rejects with the signal's reason, as a well-behaved
 *   handler does;
 * - content `stubborn:MS` ignores the signal and finishes after MS
 *   milliseconds anyway. The processor abandons it at the abort and ignores
 *   its late result: the attempt has already failed (or been canceled).
 *
 *   TASK_HANDLER=examples/handlers/hang.ts TASK_TIMEOUT_MS=2000 make start
 */
export default defineHandler(async (task, { signal, logger }) => {
  const stubborn = /^stubborn:(\d+)$/.exec(task.content);
  if (stubborn) {
    // Deliberately no signal: nothing can stop this wait.
    await new Promise((resolve) => setTimeout(resolve, Number(stubborn[1])));
    logger.info('stubborn handler finished');
    return;
  }
  await new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
});
