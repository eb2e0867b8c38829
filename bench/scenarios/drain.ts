import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import type { TaskClient } from '../lib/clients.js';
import { Observer, wallClockMs } from '../lib/observer.js';
import { percentile } from '../lib/stats.js';
import { waitUntil, type BenchSystem } from '../lib/system.js';

export interface DrainRun {
  /** From the first claim to the last task final, seconds. */
  seconds: number;
  /** completed / total prefetch x work: the time perfect scheduling would take. */
  idealSeconds: number;
  efficiency: number;
  completed: number;
  canceled: number;
  cancel: CancelFigures;
}

export interface CancelFigures {
  /** Cancels whose task was processing when the cancel committed. */
  measured: number;
  /** Of those, how many had no abort logged by any processor. */
  missed: number;
  /**
   * Of those, how many finished their work before the cancel's notice
   * reached the processor (its guarded completion then matched nothing and
   * the task stayed canceled); their latency is taken at that moment.
   */
  workEndedFirst: number;
  /** From the cancel's response reaching the client to the processor logging the abort, ms. */
  p50Ms: number;
  p99Ms: number;
}

export interface DrainSettings {
  count: number;
  concurrency: number;
  prefetchTotal: number;
  workMs: number;
  processors: number;
  cancels: number;
  processorEnv: Record<string, string>;
}

/**
 * Phases 3 and 4: `count` tasks are queued while no processor runs; then the
 * processors start with the seed's work and a total prefetch of
 * `prefetchTotal`, and the time from the first claim to the last completion
 * is compared with the ideal. Meanwhile `cancels` running tasks are canceled
 * and each cancel's response is matched with the abort the processor logs.
 */
export async function measureDrain(client: TaskClient, observer: Observer, system: BenchSystem, settings: DrainSettings): Promise<DrainRun> {
  await system.stopProcessors();
  // The backlog is written straight into the task and outbox tables (what
  // creates would leave behind), so a slow create path cannot stretch the
  // bench; task-api's relay publishes it as it would any outbox entry.
  const ids = await observer.seedPendingTasks(settings.count, 'bench drain task');
  await waitUntil('the outbox to be published', async () => (await observer.outboxSize()) === 0, 300_000, 200);

  const after = await observer.watermark();
  await system.startProcessors(
    {
      ...settings.processorEnv,
      PROCESSING_DURATION_MS: String(settings.workMs),
      PROCESSOR_PREFETCH: String(Math.ceil(settings.prefetchTotal / settings.processors)),
    },
    settings.processors,
  );
  const cancelResponses = await cancelRunningTasks(client, observer, ids, settings.cancels);
  await observer.waitForTransitions(after, ['completed', 'canceled'], settings.count, 600_000);

  const { firstClaim, lastFinal } = await observer.span(after);
  const completed = await observer.countTransitions(after, ['completed']);
  const canceled = await observer.countTransitions(after, ['canceled']);
  const idealSeconds = (completed / settings.prefetchTotal) * (settings.workMs / 1000);
  const seconds = (lastFinal - firstClaim) / 1000;
  const cancel = await cancelFigures(observer, after, cancelResponses, system.processors.map((p) => p.logFile));
  return { seconds, idealSeconds, efficiency: idealSeconds / seconds, completed, canceled, cancel };
}

/** Cancels, every 200 ms, one task picked at random among those a processor is working on. */
async function cancelRunningTasks(client: TaskClient, observer: Observer, ids: string[], cancels: number): Promise<Map<string, number>> {
  const responses = new Map<string, number>();
  for (let sent = 0; sent < cancels; ) {
    await delay(200);
    const sample = Array.from({ length: 50 }, () => ids[Math.floor(Math.random() * ids.length)]!);
    const statuses = await observer.statuses(sample);
    const victim = sample.find((id) => statuses.get(id) === 'processing' && !responses.has(id));
    if (!victim) continue;
    try {
      await client.cancel(victim);
      responses.set(victim, wallClockMs());
    } catch {
      // Completed between the look and the cancel: not a cancel of running work.
    }
    sent++;
  }
  return responses;
}

async function cancelFigures(observer: Observer, after: string, responses: Map<string, number>, logFiles: string[]): Promise<CancelFigures> {
  const canceled = await observer.transitionTimes(after, 'canceled');
  // The processor logs one of these lines when it lets go of a canceled task.
  const aborts = new Map<string, { at: number; endedFirst: boolean }>();
  for (const file of logFiles) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const aborted = line.includes('task canceled; work aborted');
      const endedFirst = line.includes('task was canceled or taken over before it could complete');
      if (!aborted && !endedFirst) continue;
      const entry = JSON.parse(line) as { taskId: string; time: string };
      aborts.set(entry.taskId, { at: Date.parse(entry.time), endedFirst });
    }
  }
  const latencies: number[] = [];
  let missed = 0;
  let workEndedFirst = 0;
  for (const [taskId, respondedAt] of responses) {
    if (canceled.get(taskId)?.from !== 'processing') continue;
    const abort = aborts.get(taskId);
    if (abort === undefined) {
      missed++;
      continue;
    }
    if (abort.endedFirst) workEndedFirst++;
    latencies.push(abort.at - respondedAt);
  }
  return { measured: latencies.length + missed, missed, workEndedFirst, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
}
