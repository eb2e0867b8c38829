import { setTimeout as delay } from 'node:timers/promises';
import { Broker } from '../lib/broker.js';
import { submitLoad } from '../lib/load.js';
import type { Scenario } from '../lib/scenario.js';
import { waitFor } from '../../support/wait-for.js';

const STALE_AFTER_MS = 8_000;
const DELETIONS = 2;

/**
 * The task queue is deleted under load, twice, with whatever it holds (an
 * operator's slip, a policy, a broker restored from an old definition file).
 * The services must declare it again on their own: the processors see their
 * consumer canceled by the broker and consume again, the relay's publishes
 * come back unroutable (`mandatory`) and are kept in the outbox until the
 * queue is back, never confirmed into nowhere. The messages that went down
 * with the queue are only recovered by the stale task sweeper, so its period
 * is short here (8 s); after the drain every task must be final.
 */
export const taskQueueDeleted: Scenario = {
  id: '13-task-queue-deleted',
  title: 'the task queue deleted under load (the services declare it again)',
  settings: { TASK_STALE_AFTER_MS: String(STALE_AFTER_MS) },
  async run(ctx) {
    const { system, topology } = ctx;
    await system.startAll(2);
    ctx.drainTimeoutMs = 60_000;
    const broker = await Broker.connect(ctx.infra.rabbit.amqpUrl, topology);
    try {
      const stopLoad = new AbortController();
      const load = submitLoad(system.clients, ctx.record, topology.taskQueue, { count: 10_000, concurrency: 16, ratePerSecond: 40, signal: stopLoad.signal });
      for (let n = 1; n <= DELETIONS; n++) {
        await delay(3_000);
        const dropped = await broker.deleteQueue(topology.taskQueue);
        const deletedAt = Date.now();
        ctx.log(`deleted ${topology.taskQueue} (${dropped} messages in it)`);
        const back = await waitFor(
          () => broker.exists(topology.taskQueue),
          (exists) => exists,
          { timeoutMs: 30_000, intervalMs: 100 },
        ).then(
          () => true,
          () => false,
        );
        if (!back) {
          ctx.fail(`deletion ${n}: the task queue was not declared again within 30 s`);
          break;
        }
        ctx.note(`deletion ${n}: ${dropped} messages went down with the queue; declared again after ${((Date.now() - deletedAt) / 1000).toFixed(1)} s`);
      }
      await delay(5_000);
      stopLoad.abort();
      await load;
    } finally {
      await broker.close();
    }
    const refused = ctx.record.submissions.filter((s) => !s.answer.ok);
    if (refused.length > 0) ctx.fail(`${refused.length} create(s) refused: ${[...new Set(refused.map((s) => s.answer.answer))].join(', ')}`);
  },
};
