import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Resolves after `ms`, or rejects with `signal.reason` as soon as the signal
 * aborts (at once if it already has).
 */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * For CPU-bound work done in chunks: lets the event loop run (timers, the
 * cancel notice, other tasks' I/O), then throws `signal.reason` if the
 * attempt was aborted meanwhile. A chunk of a few milliseconds between
 * checkpoints keeps cancels and timeouts prompt; work that cannot be
 * chunked belongs in a worker thread.
 */
export async function checkpoint(signal: AbortSignal): Promise<void> {
  await nextTurn();
  signal.throwIfAborted();
}
