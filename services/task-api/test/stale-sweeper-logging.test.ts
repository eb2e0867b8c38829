import { describe, expect, it } from 'vitest';
import { UnavailableError, type TaskStore } from '@taskproc/core';
import { StaleTaskSweeper } from '../src/stale-task-sweeper.js';
import { captureLogs } from '../../../test/support/log-capture.js';
import { waitFor } from '../../../test/support/wait-for.js';

// A sweep that fails is logged where an operator looks (warn for an outage,
// error for anything else): while sweeps fail, lost tasks stay lost.

describe('stale task sweeper failures', () => {
  it.each([
    ['an outage', new UnavailableError('the database is unavailable'), 40, 'stale task sweep failed: the database is unavailable'],
    ['an unexpected error', new Error('relation "outbox" does not exist'), 50, 'stale task sweep failed'],
  ])('logs %s at a level an operator sees', async (_name, failure, level, msg) => {
    const { logger, lines } = captureLogs('info');
    // A fault on purpose: the store refuses every sweep.
    const store = { requeueStale: async () => Promise.reject(failure) } as unknown as TaskStore;
    const sweeper = new StaleTaskSweeper(store, { intervalMs: 20, onRequeued: () => undefined }, logger);
    sweeper.start();
    try {
      const [line] = await waitFor(() => lines.filter((l) => l.msg === msg), (found) => found.length > 0, { description: 'the failure logged' });
      expect(line).toMatchObject({ level, err: { message: failure.message } });
    } finally {
      await sweeper.stop();
    }
  });
});
