import type { TaskClient } from '../lib/clients.js';
import { closedLoop, openLoop, type LoadResult } from '../lib/load.js';
import { Observer, wallClockMs } from '../lib/observer.js';
import { startLedger, type Ledger, type LedgerSource } from '../lib/cpu-ledger.js';
import { cpuSeconds, peakRssMiB, resetPeakRss } from '../lib/process-stats.js';
import { percentile } from '../lib/stats.js';
import type { ServiceProcess } from '../lib/system.js';

export interface EndToEndRun {
  /** Tasks per second from the first create sent to the last task completed. */
  perSecond: number;
  /** From a create being sent to its task's completion (database clock), ms. */
  p50Ms: number;
  p99Ms: number;
  count: number;
  /** Creates refused (e.g. UNAVAILABLE when the pool is exhausted); their tasks are not counted. */
  failedCreates: number;
  cost: ServiceCost[];
  /** CPU ms per task of every process involved (saturated runs only). */
  ledger?: Ledger;
}

export interface ServiceCost {
  service: string;
  cpuSecondsPer1000: number;
  peakRssMiB: number;
}

/**
 * Phase 2, saturated: `count` creates from `concurrency` callers while the
 * processors (PROCESSING_DURATION_MS=0) complete them. Also phase 5: the CPU
 * time and peak RSS each service process spent on those tasks.
 */
export async function measureEndToEnd(
  client: TaskClient,
  observer: Observer,
  services: ServiceProcess[],
  settings: { count: number; concurrency: number; runs: number },
  ledgerSources: LedgerSource[] = [],
): Promise<EndToEndRun[]> {
  const runs: EndToEndRun[] = [];
  for (let run = 0; run < settings.runs; run++) {
    const cpuBefore = services.map((s) => cpuSeconds(s.pid));
    services.forEach((s) => resetPeakRss(s.pid));
    const ledger = await startLedger(ledgerSources);
    const measured = await createAndComplete(client, observer, settings.count, (create) => closedLoop(settings.count, settings.concurrency, create));
    const figures = await ledger.stop(measured.count);
    const cost = services.map((s, i) => ({
      service: s.name,
      cpuSecondsPer1000: ((cpuSeconds(s.pid) - cpuBefore[i]!) * 1000) / measured.count,
      peakRssMiB: peakRssMiB(s.pid),
    }));
    runs.push({ ...measured, cost, ledger: figures });
    process.stderr.write(`  end-to-end run ${run + 1}: ${Math.round(measured.perSecond)}/s, p99 ${Math.round(measured.p99Ms)} ms\n`);
  }
  return runs;
}

/** Unloaded: one create at a time (each after the previous one's answer), create-to-completed latency. */
export async function measureUnloadedLatency(client: TaskClient, observer: Observer, count: number): Promise<EndToEndRun> {
  await observer.waitForIdle(600_000);
  return { ...(await createAndComplete(client, observer, count, (create) => closedLoop(count, 1, create))), cost: [] };
}

/** Phase 2, not saturated: creates at a fixed rate, create-to-completed latency. */
export async function measurePacedLatency(client: TaskClient, observer: Observer, rate: number, seconds: number): Promise<EndToEndRun> {
  const count = Math.round(rate * seconds);
  return { ...(await createAndComplete(client, observer, count, (create) => openLoop(rate, seconds, create))), cost: [] };
}

async function createAndComplete(
  client: TaskClient,
  observer: Observer,
  count: number,
  drive: (create: (i: number) => Promise<unknown>) => Promise<LoadResult>,
): Promise<Omit<EndToEndRun, 'cost'>> {
  const after = await observer.watermark();
  const sentAt = new Map<string, number>();
  const result = await drive(async (i) => {
    const sent = wallClockMs();
    sentAt.set(await client.create(`bench e2e task ${i}`), sent);
  });
  // A failed create is reported, not fatal: an overloaded system refusing
  // work (UNAVAILABLE) is itself a finding. Only the tasks created count.
  if (result.errors > 0) process.stderr.write(`  end-to-end: ${result.errors} of ${count} creates failed, first: ${result.firstError}\n`);
  await observer.waitForTransitions(after, ['completed'], sentAt.size, Math.max(120_000, count * 20));
  const completed = await observer.transitionTimes(after, 'completed');
  const latencies: number[] = [];
  let last = 0;
  for (const [taskId, sent] of sentAt) {
    const done = completed.get(taskId);
    if (!done) throw new Error(`end-to-end: task ${taskId} was not completed`);
    latencies.push(done.at - sent);
    last = Math.max(last, done.at);
  }
  return {
    perSecond: (sentAt.size * 1000) / (last - result.startedAt),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    count: sentAt.size,
    failedCreates: result.errors,
  };
}
