import { submitLoad } from '../lib/load.js';
import type { Scenario } from '../lib/scenario.js';

/**
 * No fault: the yardstick for the others. 600 tasks from 32 concurrent
 * clients (every fourth over REST when the gateway exists) through task-api,
 * two processors. The runner's notes give throughput and p99
 * submit-to-completed.
 */
export const baseline: Scenario = {
  id: '01-baseline',
  title: 'baseline load, no fault',
  async run(ctx) {
    await ctx.system.startAll(2);
    const started = Date.now();
    await submitLoad(ctx.system.clients, ctx.record, ctx.topology.taskQueue, { count: 600, concurrency: 32 });
    const seconds = (Date.now() - started) / 1000;
    ctx.note(`submitted 600 in ${seconds.toFixed(1)} s (${(600 / seconds).toFixed(0)} creates/s)`);
  },
};
