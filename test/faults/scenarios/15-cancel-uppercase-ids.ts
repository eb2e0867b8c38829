import { randomUUID } from 'node:crypto';
import { encodeTaskMessage } from '@taskproc/core';
import { Broker } from '../lib/broker.js';
import { cancelTask, submitLoad, type Via } from '../lib/load.js';
import type { Scenario, ScenarioContext } from '../lib/scenario.js';
import { waitFor } from '../../support/wait-for.js';

const WORK_MS = 30_000;
const PREFETCH = 2;
const PROCESSORS = 2;
/** Tasks in the processors' hands at once. */
const BATCH = PREFETCH * PROCESSORS;
/** A canceled task's work must stop well before it would have ended. */
const ABORT_WITHIN_MS = 10_000;

type Batch = { ids: string[]; how: string };

/**
 * Cancels of running tasks where the id is written in upper case somewhere:
 * in the cancel request (gRPC and REST), in the task message (as another
 * producer might write it), or both. Work takes 30 s and each processor
 * holds two tasks; while one batch runs, the next waits in the queue. A
 * cancel that reaches the running work frees its slot at once, so the next
 * batch must be claimed within 10 s of the cancels; a cancel that missed the
 * running work would hold the slots for the full 30 s. Every cancel must be
 * answered OK (the tasks are processing) and every task end canceled.
 *
 * Tasks whose message carries an upper-case id are written to the database
 * by the suite (task-api's relay always writes lower case) and their
 * messages published by the suite; they are counted as unacknowledged.
 */
export const cancelUppercaseIds: Scenario = {
  id: '15-cancel-uppercase-ids',
  title: 'running tasks canceled by upper-case id (in the request, the message, or both)',
  settings: { PROCESSING_DURATION_MS: String(WORK_MS), PROCESSOR_PREFETCH: String(PREFETCH), PROCESSOR_SHUTDOWN_GRACE_MS: '1000' },
  async run(ctx) {
    const { system } = ctx;
    await system.startAll(PROCESSORS);
    const broker = await Broker.connect(ctx.infra.rabbit.amqpUrl, ctx.topology);
    try {
      const viaApi = async (): Promise<string[]> => {
        const before = ctx.record.acknowledged().size;
        await submitLoad(system.clients, ctx.record, ctx.topology.taskQueue, { count: BATCH, concurrency: BATCH, via: (i) => (i % 2 === 0 ? 'grpc' : 'rest') });
        return [...ctx.record.acknowledged().keys()].slice(before);
      };
      const withUppercaseMessages = async (): Promise<string[]> => {
        const ids = Array.from({ length: BATCH }, () => randomUUID());
        for (const id of ids) {
          await ctx.db.query('insert into task (id, content) values ($1, $2)', [id, `faults 15 upper-case message ${id}`]);
          await broker.publishToTaskQueue(encodeTaskMessage(id.toUpperCase()), { messageId: id.toUpperCase() });
        }
        return ids;
      };
      // Each batch is canceled in its own way; the next one is queued behind it.
      const plan: { make: () => Promise<string[]>; how: string; cancelId: (id: string) => string }[] = [
        { make: viaApi, how: 'created through the API, canceled by upper-case id', cancelId: (id) => id.toUpperCase() },
        { make: withUppercaseMessages, how: 'upper-case id in the message, canceled by lower-case id', cancelId: (id) => id },
        { make: withUppercaseMessages, how: 'upper-case id in the message and the cancel', cancelId: (id) => id.toUpperCase() },
        { make: viaApi, how: 'created through the API, the last batch (canceled normally)', cancelId: (id) => id },
      ];
      let running: Batch & { cancelId: (id: string) => string } = { ids: await plan[0]!.make(), how: plan[0]!.how, cancelId: plan[0]!.cancelId };
      if (!(await allProcessing(ctx, running.ids, 30_000))) return ctx.fail(`the first batch was not processing within 30 s`);
      for (const step of plan.slice(1)) {
        const next = { ids: await step.make(), how: step.how, cancelId: step.cancelId };
        const canceledAt = await cancelAll(ctx, running.ids.map(running.cancelId));
        const freed = await allProcessing(ctx, next.ids, ABORT_WITHIN_MS);
        const ms = Date.now() - canceledAt;
        if (freed) ctx.note(`${running.how}: the next batch was claimed ${ms} ms after the cancels`);
        else ctx.fail(`${running.how}: the next batch was not claimed within ${ABORT_WITHIN_MS / 1000} s of the cancels (the cancels missed the running work)`);
        running = next;
      }
      await cancelAll(ctx, running.ids.map(running.cancelId));
    } finally {
      await broker.close();
    }
    const refused = ctx.record.cancels.filter((c) => !c.answer.ok);
    if (refused.length > 0) ctx.fail(`${refused.length} cancel(s) of processing tasks refused: ${[...new Set(refused.map((c) => c.answer.answer))].join(', ')}`);
  },
};

/** Cancels every id, alternately over gRPC and REST; returns when the last answer arrived. */
async function cancelAll(ctx: ScenarioContext, ids: string[]): Promise<number> {
  await Promise.all(ids.map((id, i) => cancelTask(ctx.system.clients, ctx.record, id, (ctx.system.clients.rest && i % 2 === 1 ? 'rest' : 'grpc') as Via)));
  return Date.now();
}

async function allProcessing(ctx: ScenarioContext, ids: string[], timeoutMs: number): Promise<boolean> {
  const count = async () => Number((await ctx.db.query<{ n: string }>(`select count(*) as n from task where id = any($1) and status = 'processing'`, [ids]))[0]!.n);
  return waitFor(count, (n) => n === ids.length, { timeoutMs, intervalMs: 100 }).then(
    () => true,
    () => false,
  );
}
