import { submitLoad } from '../lib/load.js';
import type { Scenario } from '../lib/scenario.js';
import { waitFor } from '../../support/wait-for.js';

const ROUNDS = 4;

/**
 * task-api runs with TASK_API_FAULT_EXIT_AFTER_COMMIT=true: the first create
 * commits (task row and outbox entry) and the process exits before the relay
 * publishes and before the client gets an answer. The scenario checks the row
 * and its outbox entry are there, restarts task-api normally, and sends a
 * normal load meanwhile; the restarted relay must publish the stranded entry
 * so the task is completed, though no client was ever told it exists. (Now
 * and then the relay sends the message in the moment before the exit; that
 * round's task is then already with a processor, and must be completed too.)
 */
export const taskApiCrashBeforePublish: Scenario = {
  id: '03-api-crash-before-publish',
  title: 'task-api killed between committing a task and publishing it',
  async run(ctx) {
    const { system, db } = ctx;
    await system.startProcessors(2);
    const stranded: string[] = [];
    let unpublished = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const api = await system.startTaskApi({ TASK_API_FAULT_EXIT_AFTER_COMMIT: 'true' });
      api.expectExit();
      const content = `faults 03 stranded ${round}`;
      const answer = await system.clients.grpc.create(content);
      const exit = await api.waitForExit(10_000);
      if (answer.ok) ctx.fail(`round ${round}: the create was answered OK although task-api exits before answering`);
      if (exit.code !== 137) ctx.fail(`round ${round}: task-api exited with ${exit.code ?? exit.signal}, expected the fault hook's 137`);
      const [row] = await db.query<{ id: string; status: string; queued: boolean }>(
        'select t.id, t.status, exists (select 1 from outbox o where o.task_id = t.id) as queued from task t where t.content = $1',
        [content],
      );
      // The relay, woken by the commit, may have sent the message in the
      // moment before the exit (its delete of the entry commits only after
      // the confirm, so the entry stays): then a processor already has the
      // task, and the restarted relay's copy is a duplicate. Either way the
      // task must end completed.
      if (!row) ctx.fail(`round ${round}: the committed task is not in the database`);
      else {
        stranded.push(row.id);
        if (row.status === 'pending' && row.queued) unpublished++;
        else ctx.log(`round ${round}: the task was already ${row.status} at the exit (outbox entry ${row.queued ? 'present' : 'gone'})`);
      }
      ctx.log(`round ${round}: task-api exited after commit (${answer.answer} to the client); restarting it`);
      await system.supervisor.restart('task-api', () => system.taskApiSpec());
      await submitLoad(system.clients, ctx.record, ctx.topology.taskQueue, {
        count: 80,
        concurrency: 8,
        content: (i) => `faults 03 round ${round} task ${i}`,
      });
      const restarted = system.supervisor.get('task-api');
      restarted.signal('SIGTERM');
      await restarted.waitForExit(15_000);
    }
    // A create answered just before that SIGTERM may still be in the outbox
    // (a stop does not wait for the relay); as in any deployment, the next
    // task-api publishes it.
    await system.supervisor.restart('task-api', () => system.taskApiSpec());
    const completedCount = async () =>
      Number((await db.query<{ n: string }>(`select count(*) as n from task where id = any($1) and status = 'completed'`, [stranded]))[0]!.n);
    await waitFor(completedCount, (n) => n === stranded.length, { timeoutMs: 30_000 }).catch(() => undefined);
    const completed = await completedCount();
    ctx.note(`${completed}/${ROUNDS} tasks committed but never answered were completed; ${unpublished} of them were still unpublished at the exit and were published by the restarted relay`);
    if (completed !== ROUNDS) ctx.fail(`only ${completed} of ${ROUNDS} stranded tasks completed`);
    if (unpublished === 0) ctx.fail('no round left a task unpublished at the exit: the fault was not exercised');
  },
};
