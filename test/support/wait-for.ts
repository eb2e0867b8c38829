import { setTimeout as delay } from 'node:timers/promises';

export interface WaitForOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Names the condition in the timeout message. */
  description?: string;
}

/**
 * Polls `probe` until `accept` holds for its value, and returns that value.
 * On timeout the error shows the last value seen (or the last error thrown),
 * so a failing test says what it was waiting for and what it got instead.
 */
export async function waitFor<T>(
  probe: () => Promise<T> | T,
  accept: (value: T) => boolean = Boolean,
  { timeoutMs = 10_000, intervalMs = 25, description = 'condition' }: WaitForOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: { value?: T; error?: unknown } = {};
  for (;;) {
    try {
      const value = await probe();
      if (accept(value)) return value;
      last = { value };
    } catch (error) {
      last = { error };
    }
    if (Date.now() >= deadline) {
      const seen = 'error' in last ? `error ${String(last.error)}` : `value ${JSON.stringify(last.value, bigintSafe)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}; last saw ${seen}`);
    }
    await delay(intervalMs);
  }
}

function bigintSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
