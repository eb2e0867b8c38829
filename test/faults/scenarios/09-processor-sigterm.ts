import { submitLoad } from '../lib/load.js';
import type { Scenario } from '../lib/scenario.js';

const DURATION_MS = 1_500;

/**
 * Two of three processors get SIGTERM while they hold tasks: processor-2
 * with a shutdown grace longer than the work (it finishes what it holds),
 * processor-3 with a grace shorter than the work (it hands its tasks back).
 * Both must exit 0 within their grace plus a margin; processor-1 finishes
 * everything else; no task may be left processing.
 */
export const processorSigterm: Scenario = {
  id: '09-processor-sigterm',
  title: 'processors sent SIGTERM during the load',
  settings: { PROCESSING_DURATION_MS: String(DURATION_MS) },
  async run(ctx) {
    const { system, supervisor } = { system: ctx.system, supervisor: ctx.system.supervisor };
    await system.startTaskApi();
    await supervisor.start(system.processorSpec(1));
    await supervisor.start(system.processorSpec(2, { PROCESSOR_SHUTDOWN_GRACE_MS: '5000' }));
    await supervisor.start(system.processorSpec(3, { PROCESSOR_SHUTDOWN_GRACE_MS: '500' }));
    await system.startGateway();
    const targets = [
      ['processor-2', 5_000],
      ['processor-3', 500],
    ] as const;
    // Each target has finished a task of this load: it is in the flow of work
    // and, with tasks arriving faster than they finish, holds others now.
    const working = targets.map(([name]) => supervisor.get(name).waitForLine(/"task completed"/, 60_000));
    const load = submitLoad(system.clients, ctx.record, ctx.topology.taskQueue, { count: 300, concurrency: 16, ratePerSecond: 40 });
    await Promise.all(working);
    const stopped = targets.map(async ([name, graceMs]) => {
      const processor = supervisor.get(name);
      processor.signal('SIGTERM');
      const exit = await processor.waitForExit(graceMs + 15_000);
      ctx.note(`${name} (grace ${graceMs} ms) exited ${exit.code ?? exit.signal} ${exit.ms} ms after SIGTERM${exit.forced ? ' (killed: it did not stop)' : ''}`);
      if (exit.code !== 0 || exit.forced) ctx.fail(`${name} did not exit cleanly after SIGTERM: ${exit.forced ? 'killed after the timeout' : `exit ${exit.code ?? exit.signal}`}`);
      else if (exit.ms > graceMs + 10_000) ctx.fail(`${name} took ${exit.ms} ms to stop, grace ${graceMs} ms`);
    });
    await load;
    await Promise.all(stopped);
  },
};
