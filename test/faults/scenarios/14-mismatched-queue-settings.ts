import { ReadinessProbe } from '../lib/health.js';
import { submitLoad } from '../lib/load.js';
import type { Scenario } from '../lib/scenario.js';

const READINESS_WAIT_MS = 30_000;

/**
 * The processors declare the task queue with QUEUE_DELIVERY_LIMIT 5; then
 * task-api starts with 7, so the broker refuses its declaration (the
 * queue's arguments differ: PRECONDITION_FAILED) and its relay cannot
 * publish. task-api must still start and answer creates (the outbox is
 * durable), but readiness (grpc.health.v1) must say NOT_SERVING while the
 * relay cannot publish. Then task-api is restarted with the right setting:
 * readiness SERVING again, and every task created meanwhile is published and
 * completed.
 */
export const mismatchedQueueSettings: Scenario = {
  id: '14-mismatched-queue-settings',
  title: 'task-api started with a queue setting that differs from the processors\'',
  async run(ctx) {
    const { system, db } = ctx;
    const probe = new ReadinessProbe(system.taskApiUrl);
    await system.startProcessors(2);
    ctx.log('task-api with QUEUE_DELIVERY_LIMIT 7 against a queue declared with 5');
    await Promise.all([system.startTaskApi({ QUEUE_DELIVERY_LIMIT: '7' }), system.startGateway()]);

    const notReady = await probe.waitFor('NOT_SERVING', READINESS_WAIT_MS);
    if (notReady.reached) ctx.note(`readiness NOT_SERVING ${(notReady.afterMs / 1000).toFixed(1)} s after task-api was up`);
    else ctx.fail(`readiness said ${notReady.status} for ${READINESS_WAIT_MS / 1000} s while the relay could not declare the queue (expected NOT_SERVING)`);

    await submitLoad(system.clients, ctx.record, ctx.topology.taskQueue, { count: 150, concurrency: 8, content: (i) => `faults 14 mismatched ${i}` });
    const refused = ctx.record.submissions.filter((s) => !s.answer.ok);
    if (refused.length > 0) ctx.fail(`${refused.length} create(s) refused while the settings differed: ${[...new Set(refused.map((s) => s.answer.answer))].join(', ')}`);
    const [held] = await db.query<{ n: string }>('select count(*) as n from outbox');
    const [processed] = await db.query<{ n: string }>(`select count(*) as n from task where status <> 'pending'`);
    ctx.note(`while the settings differed: ${ctx.record.submissions.length - refused.length} creates answered OK, ${held!.n} outbox entries waiting, ${processed!.n} tasks processed`);
    if (Number(processed!.n) > 0) ctx.fail(`${processed!.n} task(s) were processed although task-api could not publish: the mismatch was not exercised`);

    ctx.log('restarting task-api with the processors\' setting');
    const api = system.supervisor.get('task-api');
    api.signal('SIGTERM');
    await api.waitForExit(15_000);
    await system.supervisor.restart('task-api', () => system.taskApiSpec());
    const ready = await probe.waitFor('SERVING', READINESS_WAIT_MS);
    if (ready.reached) ctx.note(`readiness SERVING ${(ready.afterMs / 1000).toFixed(1)} s after the restart with matching settings`);
    else ctx.fail(`readiness still ${ready.status} ${READINESS_WAIT_MS / 1000} s after the restart with matching settings`);
    await submitLoad(system.clients, ctx.record, ctx.topology.taskQueue, { count: 100, concurrency: 8, content: (i) => `faults 14 matched ${i}` });
  },
};
