import { setTimeout as delay } from 'node:timers/promises';
import { Broker } from '../lib/broker.js';
import { submitLoad } from '../lib/load.js';
import type { Scenario, ScenarioContext } from '../lib/scenario.js';
import { waitFor } from '../../support/wait-for.js';

// The handler kills its processor for every task but those with this content.
const SURVIVE = 'survive';
const CRASHERS = 2;
/** The crash-loop cap: interrupted attempts after which a task is failed instead of run again. */
const MAX_INTERRUPTIONS = 2;
/** Below the cap, so a crashing message is dead-lettered and comes back through the stale task sweeper, as it did forever before the cap. */
const DELIVERY_LIMIT = 1;
const STALE_AFTER_MS = 4_000;
const PROCESSORS = ['processor-1', 'processor-2'];

/**
 * A handler that kills its processor every time it runs one kind of task: a
 * crash loop. The processors run `test/support/handlers/kill-own-process.ts`
 * as TASK_HANDLER (SIGKILL for every task except content "survive"), and
 * each is restarted whenever it dies, as an orchestrator would. Two deadly
 * tasks go in among 200 ordinary ones. Each
 * kills a processor, is redelivered, kills the next, reaches the queue's
 * delivery limit (1 here), is dead-lettered, comes back through the stale
 * task sweeper (4 s here), and so on: without a bound, forever. With the
 * crash-loop cap (TASK_MAX_INTERRUPTIONS 2) it must end `failed` with a
 * reason, after at most 2 crashes each, and stay so: once both are failed,
 * two more sweeper periods pass with no crash, no new attempt and no new
 * dead letter. The ordinary tasks must all complete.
 *
 * Each processor holds one task at a time (prefetch 1), so a crash
 * interrupts only the task that caused it. With a larger prefetch the
 * ordinary tasks held beside a deadly one are interrupted by its crashes
 * too, and a few may reach the cap themselves: the price of running tasks
 * side by side in one process, not something this scenario measures.
 */
export const crashLoop: Scenario = {
  id: '16-crash-loop',
  title: 'a handler that kills its processor every time (a crash loop) ends, bounded',
  settings: {
    TASK_HANDLER: 'test/support/handlers/kill-own-process.ts',
    TASK_MAX_INTERRUPTIONS: String(MAX_INTERRUPTIONS),
    QUEUE_DELIVERY_LIMIT: String(DELIVERY_LIMIT),
    TASK_STALE_AFTER_MS: String(STALE_AFTER_MS),
    PROCESSOR_PREFETCH: '1',
  },
  async run(ctx) {
    const { system, db } = ctx;
    const supervisor = system.supervisor;
    await system.startAll(PROCESSORS.length);
    ctx.drainTimeoutMs = 60_000;
    const crashes: string[] = [];
    for (const name of PROCESSORS) {
      supervisor.keepAlive(name, (exit) => {
        crashes.push(`${name} ${exit.code ?? exit.signal}`);
        ctx.log(`${name} died (${exit.code ?? exit.signal}); restarting it`);
      });
    }
    ctx.allowDeliveryLimitDeadLetters(CRASHERS * MAX_INTERRUPTIONS);

    const load = submitLoad(system.clients, ctx.record, ctx.topology.taskQueue, { count: 200, concurrency: 8, ratePerSecond: 20, content: () => SURVIVE });
    await submitLoad(system.clients, ctx.record, ctx.topology.taskQueue, { count: CRASHERS, concurrency: CRASHERS, via: () => 'grpc', content: (i) => `crash-loop ${i}` });
    const deadly = [...ctx.record.acknowledged().entries()].filter(([, s]) => s.content !== SURVIVE).map(([id]) => id);
    if (deadly.length !== CRASHERS) return ctx.fail(`only ${deadly.length} of ${CRASHERS} deadly tasks were created`);
    await load;

    const ended = await waitFor(() => states(ctx, deadly), (rows) => rows.every((r) => r.status === 'failed'), { timeoutMs: 80_000, intervalMs: 250 }).then(
      () => true,
      () => false,
    );
    const settled = await states(ctx, deadly);
    if (!ended) return ctx.fail(`the crash loop did not end within 80 s: ${settled.map((r) => `${r.status} after ${r.attempt} attempts`).join(', ')} (${crashes.length} crashes)`);
    await supervisor.settleRestarts();
    ctx.note(`${crashes.length} processor crashes; the deadly tasks ended failed after ${settled.map((r) => r.attempt).join(' and ')} attempts: "${settled[0]!.error}"`);
    if (crashes.length > CRASHERS * MAX_INTERRUPTIONS) ctx.fail(`${crashes.length} crashes, more than ${MAX_INTERRUPTIONS} per deadly task`);
    if (settled.some((r) => !r.error)) ctx.fail('a deadly task ended failed without a reason');

    // It has ended: two sweeper periods later, nothing may have moved.
    const broker = await Broker.connect(ctx.infra.rabbit.amqpUrl, ctx.topology);
    try {
      const deadLetters = await broker.depth(ctx.topology.deadLetterQueue);
      const crashCount = crashes.length;
      await delay(2 * STALE_AFTER_MS + 2_000);
      const later = await states(ctx, deadly);
      const moreDeadLetters = (await broker.depth(ctx.topology.deadLetterQueue)) - deadLetters;
      if (crashes.length > crashCount) ctx.fail(`${crashes.length - crashCount} more crash(es) after the deadly tasks had failed`);
      if (later.some((r, i) => r.attempt !== settled[i]!.attempt || r.status !== 'failed')) ctx.fail('a deadly task was attempted again after it had failed');
      if (moreDeadLetters > 0) ctx.fail(`the dead-letter queue grew by ${moreDeadLetters} after the deadly tasks had failed`);
    } finally {
      await broker.close();
    }
    const [innocent] = await db.query<{ n: string }>(`select count(*) as n from task where status = 'failed' and not (id = any($1))`, [deadly]);
    if (Number(innocent!.n) > 0) ctx.fail(`${innocent!.n} ordinary task(s) ended failed: interrupted by the crashes ${MAX_INTERRUPTIONS} times`);
  },
};

async function states(ctx: ScenarioContext, ids: string[]) {
  return ctx.db.query<{ status: string; attempt: number; error: string | null }>('select status, attempt, error from task where id = any($1) order by id', [ids]);
}
