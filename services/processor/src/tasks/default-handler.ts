import { defineHandler, sleep, type TaskHandler } from '@taskproc/handler';

/**
 * The handler the processor runs when TASK_HANDLER is not set: the seed's
 * simulated work, a wait of PROCESSING_DURATION_MS that a cancel, timeout
 * or shutdown cuts short.
 */
export function waitingHandler(durationMs: number): TaskHandler {
  return defineHandler((_task, { signal }) => sleep(durationMs, signal));
}
