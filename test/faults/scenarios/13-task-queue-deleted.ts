import { setTimeout as delay } from 'node:timers/promises';
import { Broker } from '../lib/broker.js';
import { submitLoad } from '../lib/load.js';
import type { Scenario } from '../lib/scenario.js';
import { waitFor } from '../../support/wait-for.js';

const STALE_AFTER_MS = 8_000;

/**
 * The task queue is deleted under load with whatever it holds (an
 * operator's slip, a policy, a broker restored from an old definition file).
 * The processors are slower than the load here (2 x prefetch 4 x 400 ms of
 * work = 20 tasks/s against 30 creates/s), so the queue holds a backlog when
 * it goes. The services must declare it again on their own and carry on:
 *
 * - the messages that went down with the queue are gone from the broker; only
 *   the stale task sweeper can queue their tasks again, so its period is
 *   short here (8 s), and after the drain every task must be final;
 * - a task created after the deletion must never need the sweeper: its
 *   publish, if it met no queue, is unroutable and must come back to the
 *   relay (`mandatory`) and stay in the outbox until the queue exists, not
 *   be confirmed into nowhere. The scenario counts the tasks created after
 *   the deletion that the sweeper had to queue again (their `queued_at` is
 *   later than their creation); it must be 0. The backlog never grows long
 *   enough after the deletion (about 3 s) to make a healthy task look stale.
 */
export const taskQueueDeleted: Scenario = {
  id: '13-task-queue-deleted',
  title: 'the task queue deleted under load (the services declare it again)',
  settings: { TASK_STALE_AFTER_MS: String(STALE_AFTER_MS), PROCESSOR_PREFETCH: '4', PROCESSING_DURATION_MS: '400' },
  async run(ctx) {
    const { system, topology, db } = ctx;
    await system.startAll(2);
    ctx.drainTimeoutMs = 60_000;
    const broker = await Broker.connect(ctx.infra.rabbit.amqpUrl, topology);
    let deletedAt = 0;
    try {
      const stopLoad = new AbortController();
      const load = submitLoad(system.clients, ctx.record, topology.taskQueue, { count: 10_000, concurrency: 16, ratePerSecond: 30, signal: stopLoad.signal });
      await delay(4_000);
      const dropped = await broker.deleteQueue(topology.taskQueue);
      deletedAt = Date.now();
      ctx.log(`deleted ${topology.taskQueue} (${dropped} messages in it)`);
      const back = await waitFor(
        () => broker.exists(topology.taskQueue),
        (exists) => exists,
        { timeoutMs: 30_000, intervalMs: 100 },
      ).then(
        () => true,
        () => false,
      );
      if (back) ctx.note(`${dropped} messages went down with the queue; the services declared it again ${((Date.now() - deletedAt) / 1000).toFixed(1)} s later`);
      else ctx.fail('the task queue was not declared again within 30 s of its deletion');
      if (dropped === 0) ctx.fail('the queue held no message when it was deleted: the loss was not exercised');
      await delay(6_000);
      stopLoad.abort();
      await load;
    } finally {
      await broker.close();
    }
    const refused = ctx.record.submissions.filter((s) => !s.answer.ok);
    if (refused.length > 0) ctx.fail(`${refused.length} create(s) refused: ${[...new Set(refused.map((s) => s.answer.answer))].join(', ')}`);

    // Wait for the drain here, so the sweeper's work is visible before the check.
    await waitFor(() => db.unfinishedCount(), (n) => n === 0, { timeoutMs: 50_000, intervalMs: 250 }).catch(() => undefined);
    const rows = await db.query<{ after: boolean; rescued: boolean }>(
      `select created_at > $1 as after, queued_at > created_at + interval '1 second' as rescued from task`,
      [new Date(deletedAt)],
    );
    const rescuedBefore = rows.filter((r) => !r.after && r.rescued).length;
    const rescuedAfter = rows.filter((r) => r.after && r.rescued).length;
    ctx.note(`queued again by the stale task sweeper: ${rescuedBefore} task(s) created before the deletion, ${rescuedAfter} created after it`);
    if (rescuedAfter > 0) ctx.fail(`${rescuedAfter} task(s) created after the deletion needed the stale task sweeper: their publishes were lost (unroutable, yet taken as published)`);
  },
};
