import { setTimeout as delay } from 'node:timers/promises';
import { cancelTask, submitLoad, type Via } from '../lib/load.js';
import type { Scenario } from '../lib/scenario.js';

const DURATION_MS = 1_000;

/**
 * Each task is canceled at about the moment it should complete: after the
 * work's duration times a factor drawn from 0.8 to 1.4 (the pick-up delay
 * shifts the real completion a little later). Exactly one side must win per
 * task, a cancel answered OK must never be followed by completed (the
 * checker's done-after-cancel), and a cancel refused as "already final" must
 * find the task completed. Both outcomes must occur, or the race was not run.
 */
export const cancelRacesCompletion: Scenario = {
  id: '08-cancel-races-completion',
  title: 'cancels racing completion',
  settings: { PROCESSING_DURATION_MS: String(DURATION_MS), PROCESSOR_PREFETCH: '100' },
  async run(ctx) {
    const { system } = ctx;
    await system.startAll(2);
    const cancels: Promise<unknown>[] = [];
    let n = 0;
    await submitLoad(system.clients, ctx.record, ctx.topology.taskQueue, {
      count: 300,
      concurrency: 8,
      ratePerSecond: 30,
      onAcknowledged: (taskId) => {
        const via: Via = system.clients.rest && n++ % 2 === 1 ? 'rest' : 'grpc';
        cancels.push(delay(DURATION_MS * (0.8 + Math.random() * 0.6)).then(() => cancelTask(system.clients, ctx.record, taskId, via)));
      },
    });
    await Promise.all(cancels);
    const won = ctx.record.cancels.filter((c) => c.answer.ok).length;
    const lost = ctx.record.cancels.filter((c) => /FAILED_PRECONDITION|HTTP 400/.test(c.answer.answer)).length;
    const other = ctx.record.cancels.length - won - lost;
    ctx.note(`cancel won ${won}, completion won ${lost}, other answers ${other}`);
    if (won === 0 || lost === 0) ctx.fail('the race was one-sided: both outcomes must occur');
    if (other > 0) ctx.fail(`${other} cancel(s) answered neither OK nor "already final"`);
  },
};
