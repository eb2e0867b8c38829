import { sleep } from '@taskproc/core';

/**
 * The work a task stands for. Here it is simulated by a wait; a real job
 * would go here and must honour `signal` the same way: stop promptly and
 * reject with `signal.reason` when it aborts.
 */
export async function performWork(durationMs: number, signal: AbortSignal): Promise<void> {
  await sleep(durationMs, signal);
}
