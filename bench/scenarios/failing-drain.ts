import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import type { BenchDatabase } from '../lib/bench-database.js';
import type { Observer } from '../lib/observer.js';
import { waitUntil, type BenchSystem } from '../lib/system.js';

const HANDLER = fileURLToPath(new URL('../handlers/fail-share.ts', import.meta.url));

export interface FailingDrainSettings {
  count: number;
  /** Share of attempts that fail, percent. */
  failPercent: number;
  workMs: number;
  prefetchTotal: number;
  processors: number;
  processorEnv: Record<string, string>;
}

export interface FailingDrainRun {
  /** From the first claim to the last task final, seconds. */
  seconds: number;
  /**
   * The least time any scheduling could take: the larger of attempts x work /
   * total prefetch (every slot busy) and the longest chain of one task's own
   * attempts and shortest backoffs (they cannot overlap).
   */
  idealSeconds: number;
  /** attempts x work / total prefetch. */
  slotBoundSeconds: number;
  /** The longest single task's attempts x work plus its shortest possible backoffs. */
  chainBoundSeconds: number;
  efficiency: number;
  /**
   * Share of the prefetch slots running an attempt while the queue still held
   * tasks never tried (from the first claim to the last first attempt's):
   * near 1 when no slot waits out a backoff.
   */
  busyShare: number;
  attempts: number;
  failedAttempts: number;
  completed: number;
  failed: number;
  /** Most tasks seen waiting out a backoff at once (outbox entries not yet due), holding no slot. */
  peakWaiting: number;
  /** TASK_RETRY_BASE_MS of the run. */
  retryBase: number;
}

/**
 * A drain whose handler fails a fixed share of attempts: `count` tasks are
 * queued while no processor runs, then processors start with
 * bench/handlers/fail-share.ts. A failed attempt sends its task back to
 * pending with a backoff (through the outbox), so the drain takes more
 * attempts than tasks; if the backoff waits held prefetch slots, the slots
 * would idle and the time would exceed attempts x work / prefetch by the
 * waits. Efficiency near 1 says no slot was spent waiting.
 */
export async function measureFailingDrain(observer: Observer, db: BenchDatabase, system: BenchSystem, settings: FailingDrainSettings): Promise<FailingDrainRun> {
  await system.stopProcessors();
  await observer.seedPendingTasks(settings.count, `bench failing work=${settings.workMs} fail=${settings.failPercent}`);
  await waitUntil('the outbox to be published', async () => (await observer.outboxSize()) === 0, 300_000, 200);

  const after = await observer.watermark();
  // Enough attempts that a task failing every one is vanishingly rare
  // (0.2^10 at 20 %); a short base keeps the tail after the last failure short.
  const retryBase = 100;
  await system.startProcessors(
    {
      ...settings.processorEnv,
      TASK_HANDLER: HANDLER,
      TASK_MAX_ATTEMPTS: '10',
      TASK_RETRY_BASE_MS: String(retryBase),
      TASK_RETRY_MAX_MS: '2000',
      PROCESSOR_PREFETCH: String(Math.ceil(settings.prefetchTotal / settings.processors)),
    },
    settings.processors,
  );
  let peakWaiting = 0;
  let done = false;
  const sampling = (async () => {
    while (!done) {
      const [row] = await db.query<{ n: number }>(`select count(*)::int as n from outbox where not_before > clock_timestamp()`);
      peakWaiting = Math.max(peakWaiting, row!.n);
      await delay(200);
    }
  })();
  try {
    await observer.waitForTransitions(after, ['completed', 'failed'], settings.count, 600_000);
  } finally {
    done = true;
    await sampling;
  }

  const [row] = await db.query<{ first_claim: number; last_final: number; attempts: number; failed_attempts: number; completed: number; failed: number }>(
    `select extract(epoch from min(at) filter (where to_status = 'processing')) * 1000 as first_claim,
            extract(epoch from max(at) filter (where to_status in ('completed', 'failed'))) * 1000 as last_final,
            count(*) filter (where to_status = 'processing')::int as attempts,
            count(*) filter (where error is not null)::int as failed_attempts,
            count(*) filter (where to_status = 'completed')::int as completed,
            count(*) filter (where to_status = 'failed')::int as failed
       from task_transition where id > $1`,
    [after],
  );
  const seconds = (Number(row!.last_final) - Number(row!.first_claim)) / 1000;
  const slotBoundSeconds = (row!.attempts * settings.workMs) / 1000 / settings.prefetchTotal;
  const chainBoundSeconds = (await longestChainMs(db, after, settings.workMs, retryBase)) / 1000;
  const idealSeconds = Math.max(slotBoundSeconds, chainBoundSeconds);
  const [busy] = await db.query<{ busy_s: number; window_s: number }>(
    `with t as (
       select to_status, attempt, at, lead(at) over (partition by task_id order by id) as ended
         from task_transition where id > $1),
     w as (select min(at) filter (where to_status = 'processing') as w0,
                  max(at) filter (where to_status = 'processing' and attempt = 1) as w1 from t)
     select extract(epoch from sum(greatest(interval '0', least(t.ended, w.w1) - greatest(t.at, w.w0))))::float8 as busy_s,
            extract(epoch from max(w.w1) - max(w.w0))::float8 as window_s
       from t, w where t.to_status = 'processing'`,
    [after],
  );
  return {
    seconds,
    idealSeconds,
    slotBoundSeconds,
    chainBoundSeconds,
    efficiency: idealSeconds / seconds,
    busyShare: Number(busy!.busy_s) / (settings.prefetchTotal * Number(busy!.window_s)),
    attempts: row!.attempts,
    failedAttempts: row!.failed_attempts,
    completed: row!.completed,
    failed: row!.failed,
    peakWaiting,
    retryBase,
  };
}

/** The longest chain of one task: its attempts' work plus the shortest backoff after each of its failures (half the exponential step). */
async function longestChainMs(db: BenchDatabase, after: string, workMs: number, retryBaseMs: number): Promise<number> {
  const rows = await db.query<{ attempts: number; failures: number }>(
    `select count(*) filter (where to_status = 'processing')::int as attempts, count(*) filter (where error is not null)::int as failures
       from task_transition where id > $1 group by task_id`,
    [after],
  );
  let longest = 0;
  for (const { attempts, failures } of rows) {
    let waits = 0;
    for (let n = 1; n <= failures && n < attempts; n++) waits += (retryBaseMs * 2 ** (n - 1)) / 2;
    longest = Math.max(longest, attempts * workMs + waits);
  }
  return longest;
}
