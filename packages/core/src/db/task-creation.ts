import { createHash } from 'node:crypto';
import { AlreadyExistsError } from '../errors.js';
import { newTaskId } from '../ids.js';
import type { Task } from './task.entity.js';
import { taskFromRow } from './task-row.js';

/** What one create asks for (already validated). */
export interface NewTask {
  /**
   * The tenant the task will belong to, and whose idempotency keys its
   * request_id is one of. Per item: a group-commit batch carries creates of
   * several requests, so of several tenants.
   */
  tenant: string;
  content: string;
  /** Idempotency key (CreateTaskRequest.request_id); absent for none. */
  requestId?: string;
  /** Canonical timestamp (six fractional digits, Z) before which the task is not published; absent for at once. */
  scheduleTime?: string;
  /** W3C trace context of the create, stored with its outbox entry so the publish continues the trace; absent for none. */
  traceContext?: string | null;
}

/**
 * The answer to one create: the task it created, the task an earlier create
 * with the same request_id and content created (its status now), or a
 * request_id taken by a create with other content.
 */
export type CreateOutcome =
  | { kind: 'created'; task: Task }
  | { kind: 'repeated'; task: Task }
  | { kind: 'conflict'; requestId: string };

/** Runs one SQL statement (in a transaction or autocommit) and returns its rows. */
export type Execute = (sql: string, params: unknown[]) => Promise<Record<string, unknown>[]>;

/**
 * One statement creates the tasks, their outbox entries and their
 * idempotency keys, and answers for every item. Each item carries its
 * tenant (one statement may create for several), which the task row
 * records and the key belongs to: the key table's primary key is (tenant,
 * request_id), so two tenants using one request_id get a task each.
 *
 * 1. `keyed` inserts each (tenant, request_id) once (the first item naming
 *    it wins within the statement, in key order so concurrent statements
 *    lock keys in one order and cannot deadlock). ON CONFLICT DO UPDATE
 *    rather than DO NOTHING: it waits for a concurrent create of the same
 *    key to commit, then RETURNS the committed row, which DO NOTHING would
 *    hide (the statement's snapshot predates it). A live key keeps its task
 *    and hash; an expired one is taken over by this create.
 * 2. `fresh` is every item without a key, or whose key now names the task id
 *    proposed for it: only these insert a task and an outbox entry, whose
 *    not_before is the schedule time (a past time means now). The task's
 *    queued_at is that time too, so neither the stale-task sweeper nor a
 *    stray message can start it early (see TaskStore.claimMany).
 * 3. Each item's row says whether its task was inserted, and otherwise which
 *    task holds its key and whether the content hashes match.
 */
const CREATE_TASKS_SQL = `
  with input as (
    select * from json_to_recordset(?::json)
      as x(ord int, id uuid, tenant text, content text, schedule_time timestamptz, request_id text, hash text, trace_context text)),
  keyed as (
    insert into idempotency_key as k (tenant, request_id, content_hash, task_id, expires_at)
    select distinct on (tenant, request_id) tenant, request_id, decode(hash, 'hex'), id, clock_timestamp() + ?::interval
      from input where request_id is not null
     order by tenant, request_id, ord
    on conflict (tenant, request_id) do update
      set task_id = case when k.expires_at <= clock_timestamp() then excluded.task_id else k.task_id end,
          content_hash = case when k.expires_at <= clock_timestamp() then excluded.content_hash else k.content_hash end,
          created_at = case when k.expires_at <= clock_timestamp() then clock_timestamp() else k.created_at end,
          expires_at = case when k.expires_at <= clock_timestamp() then excluded.expires_at else k.expires_at end
    returning k.tenant, k.request_id, k.task_id, k.content_hash),
  fresh as (
    select i.* from input i left join keyed k on k.tenant = i.tenant and k.request_id = i.request_id
     where i.request_id is null or k.task_id = i.id),
  t as (
    insert into task (id, tenant, content, status, attempt, schedule_time, queued_at)
    select id, tenant, content, 'pending', 0, schedule_time, greatest(schedule_time, clock_timestamp()) from fresh order by ord
    returning *),
  o as (
    insert into outbox (task_id, not_before, trace_context)
    select t.id, greatest(t.schedule_time, clock_timestamp()), i.trace_context from t join input i on i.id = t.id)
  select i.ord, k.task_id as key_task_id, (k.content_hash = decode(i.hash, 'hex')) as same_content, t.*
    from input i
    left join keyed k on k.tenant = i.tenant and k.request_id = i.request_id
    left join t on t.id = i.id`;

/**
 * Creates `items` in one statement and returns one outcome per item, in
 * order. Tasks of repeated keys are read after the statement (a key won by a
 * concurrent create points at a task this statement's snapshot cannot see).
 */
export async function createTasks(execute: Execute, items: readonly NewTask[], keyLifetimeMs: number): Promise<CreateOutcome[]> {
  const input = items.map((item, ord) => ({
    ord,
    id: newTaskId(),
    tenant: item.tenant,
    content: item.content,
    schedule_time: item.scheduleTime ?? null,
    request_id: item.requestId ?? null,
    hash: item.requestId === undefined ? null : contentHash(item),
    trace_context: item.traceContext ?? null,
  }));
  const rows = await execute(CREATE_TASKS_SQL, [JSON.stringify(input), `${keyLifetimeMs} milliseconds`]);
  const byOrd = new Map(rows.map((row) => [Number(row.ord), row]));
  const created = new Map<string, Task>();
  for (const row of rows) {
    if (row.id !== null && row.id !== undefined) created.set(String(row.id), taskFromRow(row));
  }

  // The tasks earlier creates made for repeated keys, by id, each with the
  // tenant whose key names it.
  const missing = new Map<string, string>();
  for (const row of rows) {
    const holder = row.key_task_id === null || row.key_task_id === undefined ? null : String(row.key_task_id);
    if (holder !== null && row.same_content === true && !created.has(holder)) missing.set(holder, input[Number(row.ord)]!.tenant);
  }
  const earlier = missing.size === 0 ? new Map<string, Task>() : await readTasks(execute, missing);

  return input.map((item) => {
    const row = byOrd.get(item.ord);
    if (!row) throw new Error(`create statement returned no row for item ${item.ord}`);
    const mine = created.get(item.id);
    if (mine) return { kind: 'created', task: mine };
    if (item.request_id === null) throw new Error(`item ${item.ord} without a request_id was not created`);
    if (row.same_content !== true) return { kind: 'conflict', requestId: item.request_id };
    const holder = String(row.key_task_id);
    const task = created.get(holder) ?? earlier.get(holder);
    if (!task) throw new Error(`task ${holder} holding request_id ${item.request_id} was not found`);
    return { kind: 'repeated', task };
  });
}

/**
 * The tasks of an all-or-nothing batch, or AlreadyExistsError naming the
 * first item whose request_id was used with other content (the caller rolls
 * the transaction back).
 */
export function tasksOrConflict(outcomes: readonly CreateOutcome[]): Task[] {
  return outcomes.map((outcome, index) => {
    if (outcome.kind === 'conflict') throw conflictError(outcome.requestId, index);
    return outcome.task;
  });
}

export function conflictError(requestId: string, index?: number): AlreadyExistsError {
  const where = index === undefined ? '' : `requests[${index}]: `;
  return new AlreadyExistsError(`${where}request_id ${JSON.stringify(requestId)} was already used with other content`);
}

/**
 * Deletes up to `limit` expired keys in one statement. Rows another
 * statement holds are skipped (a create taking an expired key over), so the
 * cleanup never waits on creates nor makes them wait. statement_timestamp()
 * rather than clock_timestamp(): stable, so the condition is an index
 * condition on idempotency_key_expires_at_idx. Returns how many it deleted.
 */
export async function deleteExpiredKeys(execute: Execute, limit: number): Promise<number> {
  const rows = await execute(
    `delete from idempotency_key k
      using (select tenant, request_id from idempotency_key
              where expires_at <= statement_timestamp()
              order by expires_at limit ? for update skip locked) expired
      where k.tenant = expired.tenant and k.request_id = expired.request_id
      returning 1`,
    [limit],
  );
  return rows.length;
}

/** What the first create asked for, as the key remembers it: content and schedule time. */
function contentHash(item: NewTask): string {
  return createHash('sha256')
    .update(JSON.stringify([item.content, item.scheduleTime ?? null]))
    .digest('hex');
}

/** The tasks with these ids, each read within the tenant given for it (a key names a task of its own tenant). */
async function readTasks(execute: Execute, tenantById: ReadonlyMap<string, string>): Promise<Map<string, Task>> {
  const wanted = [...tenantById].map(([id, tenant]) => ({ id, tenant }));
  const rows = await execute(
    `select t.* from task t join json_to_recordset(?::json) as w(id uuid, tenant text) on t.id = w.id and t.tenant = w.tenant`,
    [JSON.stringify(wanted)],
  );
  return new Map(rows.map((row) => [String(row.id), taskFromRow(row)]));
}
