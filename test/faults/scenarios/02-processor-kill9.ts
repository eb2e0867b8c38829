import { setTimeout as delay } from 'node:timers/promises';
import { submitLoad } from '../lib/load.js';
import type { Scenario } from '../lib/scenario.js';

const KILL_EVERY_MS = 3_000;

/**
 * Three processors; every 3 s during the load one of them (in turn) gets
 * SIGKILL and is started again (a tick is skipped if it would leave none up). Its unacknowledged messages go back to the
 * queue and another processor re-claims their tasks (processing ->
 * processing with a new attempt, which fences the dead holder off).
 */
export const processorKill9: Scenario = {
  id: '02-processor-kill9',
  title: 'a processor killed with kill -9 every few seconds, restarted each time',
  settings: { PROCESSING_DURATION_MS: '500', PROCESSOR_PREFETCH: '20' },
  async run(ctx) {
    const { system } = ctx;
    await system.startAll(3);
    const loadDone = new AbortController();
    const load = submitLoad(system.clients, ctx.record, ctx.topology.taskQueue, { count: 600, concurrency: 16, ratePerSecond: 30 }).finally(() =>
      loadDone.abort(),
    );
    // The kills keep their pace however long a restart takes on a busy
    // machine: each tick kills the next processor that is up, and its
    // restart runs alongside. A tick is skipped while no other processor is
    // up, so the load never stops completely.
    const restarts: Promise<unknown>[] = [];
    const restarting = new Set<string>();
    let kills = 0;
    for (let tick = 0; !loadDone.signal.aborted; tick++) {
      await delay(KILL_EVERY_MS, undefined, { signal: loadDone.signal }).catch(() => undefined);
      if (loadDone.signal.aborted) break;
      const up = [1, 2, 3].map((i) => `processor-${((tick + i) % 3) + 1}`).filter((n) => !restarting.has(n));
      if (up.length < 2) continue;
      const name = up[0]!;
      const victim = system.supervisor.get(name);
      victim.signal('SIGKILL');
      kills++;
      ctx.log(`SIGKILL ${name} (pid ${victim.pid}); restarting it`);
      restarting.add(name);
      restarts.push(
        victim
          .waitForExit(5_000)
          .then(() => system.supervisor.restart(name))
          .catch((error: unknown) => ctx.fail(`could not restart ${name}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`))
          .finally(() => restarting.delete(name)),
      );
    }
    await load;
    await Promise.all(restarts);
    ctx.note(`${kills} processors killed with SIGKILL and restarted during the load`);
  },
};
