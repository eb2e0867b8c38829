import type { BenchDatabase } from './bench-database.js';
import { waitUntil } from './system.js';

/**
 * Reads what happened from the database the system writes: the transition
 * log the trigger keeps (task_transition) stamps each change of status with
 * the database's clock, which is the machine's clock the driver reads too.
 */
export class Observer {
  constructor(private readonly db: BenchDatabase) {}

  /** The newest transition so far; a later phase looks only past it. */
  async watermark(): Promise<string> {
    const [row] = await this.db.query<{ id: string }>('select coalesce(max(id), 0)::text as id from task_transition');
    return row!.id;
  }

  async countTransitions(after: string, toStatuses: string[]): Promise<number> {
    const [row] = await this.db.query<{ n: number }>('select count(*)::int as n from task_transition where id > $1 and to_status = any($2)', [after, toStatuses]);
    return row!.n;
  }

  async waitForTransitions(after: string, toStatuses: string[], count: number, timeoutMs: number): Promise<void> {
    await waitUntil(`${count} tasks to become ${toStatuses.join(' or ')}`, async () => (await this.countTransitions(after, toStatuses)) >= count, timeoutMs, 200);
  }

  /** Task id -> wall-clock ms of its transition to `status`, for transitions after the watermark. */
  async transitionTimes(after: string, status: string): Promise<Map<string, { at: number; from: string | null }>> {
    const rows = await this.db.query<{ task_id: string; at: number; from_status: string | null }>(
      `select task_id, extract(epoch from at) * 1000 as at, from_status from task_transition where id > $1 and to_status = $2`,
      [after, status],
    );
    return new Map(rows.map((r) => [r.task_id, { at: Number(r.at), from: r.from_status }]));
  }

  /** Tasks created after the watermark (the trigger logs each creation as a transition from null). */
  async countCreated(after: string): Promise<number> {
    const [row] = await this.db.query<{ n: number }>('select count(*)::int as n from task_transition where id > $1 and from_status is null', [after]);
    return row!.n;
  }

  /** Wall-clock ms of the latest transition to `status` after the watermark (NaN when none). */
  async lastAt(after: string, status: string): Promise<number> {
    const [row] = await this.db.query<{ at: number | null }>('select extract(epoch from max(at)) * 1000 as at from task_transition where id > $1 and to_status = $2', [after, status]);
    return row!.at === null ? NaN : Number(row!.at);
  }

  /** True when no task is pending or processing. */
  async idle(): Promise<boolean> {
    const [row] = await this.db.query<{ busy: boolean }>(`select exists (select 1 from task where status in ('pending', 'processing')) as busy`);
    return !row!.busy;
  }

  /** Waits until no task is pending or processing, polling every `intervalMs`. */
  async waitForIdle(timeoutMs: number, intervalMs = 100): Promise<void> {
    await waitUntil('every task to reach a final status', () => this.idle(), timeoutMs, intervalMs);
  }

  async span(after: string): Promise<{ firstClaim: number; lastFinal: number }> {
    const [row] = await this.db.query<{ first_claim: number; last_final: number }>(
      `select extract(epoch from min(at) filter (where to_status = 'processing')) * 1000 as first_claim,
              extract(epoch from max(at) filter (where to_status in ('completed', 'canceled'))) * 1000 as last_final
         from task_transition where id > $1`,
      [after],
    );
    return { firstClaim: Number(row!.first_claim), lastFinal: Number(row!.last_final) };
  }

  /** Inserts `count` pending tasks with their outbox entries in one statement; returns their ids. */
  async seedPendingTasks(count: number, contentPrefix: string): Promise<string[]> {
    const rows = await this.db.query<{ id: string }>(
      `with t as (
         insert into task (id, content, status, attempt)
         select gen_random_uuid(), $2 || ' ' || n, 'pending', 0 from generate_series(1, $1::int) as n
         returning id)
       insert into outbox (task_id) select id from t returning task_id as id`,
      [count, contentPrefix],
    );
    return rows.map((r) => r.id);
  }

  async outboxSize(): Promise<number> {
    const [row] = await this.db.query<{ n: number }>('select count(*)::int as n from outbox');
    return row!.n;
  }

  async statuses(ids: string[]): Promise<Map<string, string>> {
    const rows = await this.db.query<{ id: string; status: string }>('select id, status from task where id = any($1::uuid[])', [ids]);
    return new Map(rows.map((r) => [r.id, r.status]));
  }
}

/** Wall-clock time in ms with sub-millisecond resolution, comparable with the database's clock_timestamp(). */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}
