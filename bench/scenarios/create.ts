import type { TaskClient } from '../lib/clients.js';
import { closedLoop } from '../lib/load.js';
import { percentile } from '../lib/stats.js';

export interface CreateRun {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

/**
 * Phase 1: `count` creates from `concurrency` callers, `runs` times, after a
 * warm-up. Every create must succeed; an error fails the phase rather than
 * flattering the rate.
 */
export async function measureCreate(client: TaskClient, label: string, settings: { count: number; concurrency: number; runs: number; warmup: number }): Promise<CreateRun[]> {
  const create = (i: number) => client.create(`bench ${label} task ${i}`);
  await closedLoop(settings.warmup, settings.concurrency, create);
  const runs: CreateRun[] = [];
  for (let run = 0; run < settings.runs; run++) {
    const result = await closedLoop(settings.count, settings.concurrency, create);
    if (result.errors > 0) throw new Error(`create over ${label}: ${result.errors} of ${result.count} failed, first: ${result.firstError}`);
    runs.push({
      perSecond: (result.count * 1000) / result.elapsedMs,
      p50Ms: percentile(result.latencies, 50),
      p99Ms: percentile(result.latencies, 99),
      errors: result.errors,
    });
    process.stderr.write(`  create ${label} run ${run + 1}: ${Math.round(runs.at(-1)!.perSecond)}/s\n`);
  }
  return runs;
}
