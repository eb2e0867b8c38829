import { defineHandler } from '@taskproc/handler';

/**
 * A crash loop on purpose: every attempt kills the processor running it with
 * SIGKILL (as an out-of-memory kill or a native crash would), so the task's
 * message comes back again and again until the crash-loop cap
 * (TASK_MAX_INTERRUPTIONS) ends the task `failed`. For tests and the fault
 * suite; content `survive` is processed normally.
 */
export default defineHandler(async (task) => {
  if (task.content !== 'survive') process.kill(process.pid, 'SIGKILL');
});
