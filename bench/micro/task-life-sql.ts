import { readFileSync } from 'node:fs';
import pg from 'pg';
import { createDatabaseIfMissing, createTasks, databaseUrlFor, dropDatabase, migrateDatabase } from '@taskproc/core';
import { CLAIM_MANY_SQL, COMPLETE_MANY_SQL } from '../../packages/core/src/db/guarded-updates.js';
import { TAKE_DUE_ENTRIES_SQL } from '../../services/task-api/src/outbox-relay.js';

// PostgreSQL's CPU per task for the statements one task's life issues, as the
// services issue them (the batched create, the relay's delete, the
// processors' batched claim and completion), on a scratch database migrated
// like production, with the transition trigger as it is and with parts of it
// taken out (variants below). CPU is read from /proc/<pid>/schedstat of the
// backend running the statements and of three LISTEN backends (task-api's
// watch listener and two processors' cancellation listeners, as deployed),
// which the notices cost too. Variants run interleaved, round after round,
// so a change in the machine's load spreads over all of them.
//   node --conditions=development --import tsx bench/micro/task-life-sql.ts [rounds] [tasks per round] [variants,...]
// Env: DATABASE_URL (base), CLAIM_BATCH (default 50), RELAY_BATCH (200), CREATE_BATCH (1000),
// FORMER_GUARDS=1 (every variant with the claim and completion as they were before their guards moved inside CASE).

const rounds = Number(process.argv[2] ?? 8);
const tasksPerRound = Number(process.argv[3] ?? 1000);
const createBatch = Number(process.env.CREATE_BATCH ?? 1000);
const relayBatch = Number(process.env.RELAY_BATCH ?? 200);
const claimBatch = Number(process.env.CLAIM_BATCH ?? 50);
const FORMER_ALL = process.env.FORMER_GUARDS === '1';
const baseUrl = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/taskproc';

/** The body of task_guard_transition as the latest migration defines it, with markers for the parts a variant drops. */
function rowTrigger(parts: { insert: boolean; notify: boolean }): string {
  const transitionInsert = (columns: string, values: string) =>
    parts.insert ? `insert into task_transition (${columns}) values (${values}) returning id into transition_id;` : '';
  const notify = parts.notify
    ? `perform pg_notify('taskproc_task_changed', json_build_object(
          'id', new.id, 'tenant', new.tenant, 'status', new.status, 'attempt', new.attempt, 'transition', transition_id)::text);`
    : '';
  return `create or replace function task_guard_transition() returns trigger language plpgsql as $$
      declare
        transition_id bigint;
        attempt_error text;
      begin
        if tg_op = 'INSERT' then
          if new.status <> 'pending' then
            raise exception 'a task starts pending, not %', new.status using errcode = 'check_violation';
          end if;
          ${transitionInsert('task_id, from_status, to_status, attempt', 'new.id, null, new.status, new.attempt')}
          ${notify}
          return new;
        end if;
        if new.status = old.status and new.attempt = old.attempt then
          return new;
        end if;
        if not (
          (old.status = 'pending' and new.status in ('processing', 'canceled'))
          or (old.status = 'processing' and new.status in ('processing', 'completed', 'canceled', 'pending', 'failed'))
          or (old.status = 'failed' and new.status = 'pending')
        ) then
          raise exception 'illegal task transition % -> %', old.status, new.status using errcode = 'check_violation';
        end if;
        if old.status = 'processing' and new.status in ('pending', 'failed') then
          attempt_error := new.error;
        end if;
        ${transitionInsert('task_id, from_status, to_status, attempt, error', 'new.id, old.status, new.status, new.attempt, attempt_error')}
        ${notify}
        if new.status = 'canceled' then
          perform pg_notify('taskproc_task_canceled', new.id::text);
        end if;
        return new;
      end
    $$;`;
}

const ROW_TRIGGER = `create trigger "task_guard_transition" after insert or update on "task" for each row execute function task_guard_transition();`;
const DROP_TRIGGERS = `drop trigger if exists "task_guard_transition" on "task";
  drop trigger if exists "task_guard_transitions_insert" on "task";
  drop trigger if exists "task_guard_transitions_update" on "task";`;

/**
 * The statement-level candidate: the legality check and the transition rows
 * in set form over the statement's transition tables, one notice per
 * statement naming its transitions (ids, tenants, statuses), the cancel
 * notice per canceled task as today.
 */
const STATEMENT_TRIGGERS = `
  create or replace function task_guard_transitions_insert() returns trigger language plpgsql as $$
    declare
      bad text;
      notice text;
      notices text[];
    begin
      select status into bad from new_rows where status <> 'pending' limit 1;
      if found then
        raise exception 'a task starts pending, not %', bad using errcode = 'check_violation';
      end if;
      with recorded as (
        insert into task_transition (task_id, from_status, to_status, attempt)
        select id, null, status, attempt from new_rows
        returning id, task_id)
      select array_agg(chunk order by part) into notices from (
        select part, '[' || string_agg(entry, ',' order by transition) || ']' as chunk from (
          select transition, entry, (sum(length(entry) + 1) over (order by transition) - 1) / 7000 as part from (
            select r.id as transition, json_build_array(r.id, n.id, n.tenant, n.status, n.attempt)::text as entry
              from recorded r join new_rows n on n.id = r.task_id) e) c
        group by part) p;
      foreach notice in array coalesce(notices, '{}') loop
        perform pg_notify('taskproc_task_changes', notice);
      end loop;
      return null;
    end
  $$;
  create or replace function task_guard_transitions_update() returns trigger language plpgsql as $$
    declare
      bad record;
      notice text;
      notices text[];
      canceled uuid;
    begin
      select o.status as from_status, n.status as to_status into bad
        from old_rows o join new_rows n on n.id = o.id
       where not (
          (o.status = n.status and o.attempt = n.attempt)
          or (o.status = 'pending' and n.status in ('processing', 'canceled'))
          or (o.status = 'processing' and n.status in ('processing', 'completed', 'canceled', 'pending', 'failed'))
          or (o.status = 'failed' and n.status = 'pending'))
       limit 1;
      if found then
        raise exception 'illegal task transition % -> %', bad.from_status, bad.to_status using errcode = 'check_violation';
      end if;
      with recorded as (
        insert into task_transition (task_id, from_status, to_status, attempt, error)
        select n.id, o.status, n.status, n.attempt,
               case when o.status = 'processing' and n.status in ('pending', 'failed') then n.error end
          from old_rows o join new_rows n on n.id = o.id
         where not (o.status = n.status and o.attempt = n.attempt)
        returning id, task_id, to_status)
      select array_agg(chunk order by part) into notices from (
        select part, '[' || string_agg(entry, ',' order by transition) || ']' as chunk from (
          select transition, entry, (sum(length(entry) + 1) over (order by transition) - 1) / 7000 as part from (
            select r.id as transition, json_build_array(r.id, n.id, n.tenant, n.status, n.attempt)::text as entry
              from recorded r join new_rows n on n.id = r.task_id) e) c
        group by part) p;
      foreach notice in array coalesce(notices, '{}') loop
        perform pg_notify('taskproc_task_changes', notice);
      end loop;
      for canceled in select n.id from old_rows o join new_rows n on n.id = o.id where n.status = 'canceled' and o.status <> 'canceled' loop
        perform pg_notify('taskproc_task_canceled', canceled::text);
      end loop;
      return null;
    end
  $$;
  create trigger "task_guard_transitions_insert" after insert on "task" referencing new table as new_rows
    for each statement execute function task_guard_transitions_insert();
  create trigger "task_guard_transitions_update" after update on "task" referencing old table as old_rows new table as new_rows
    for each statement execute function task_guard_transitions_update();`;

/** The same set-form check and transition rows, without any notice: what the notices cost in that form. */
const STATEMENT_TRIGGERS_NO_NOTIFY = STATEMENT_TRIGGERS.replace(/perform pg_notify\('taskproc_task_changes', notice\);/g, 'null;');

const SECONDARY_INDEXES = ['task_tenant_created_at_id_idx', 'task_tenant_status_created_at_id_idx', 'task_unfinished_queued_at_idx'];

interface Variant {
  name: string;
  install: string;
  /** Claim and completion as they were before their guards moved inside CASE (the planner could read the sweeper's partial index for them). */
  formerGuards?: boolean;
}

const VARIANTS: Variant[] = [
  { name: 'row trigger as is', install: `${DROP_TRIGGERS} ${rowTrigger({ insert: true, notify: true })} ${ROW_TRIGGER}` },
  { name: 'row trigger, no pg_notify', install: `${DROP_TRIGGERS} ${rowTrigger({ insert: true, notify: false })} ${ROW_TRIGGER}` },
  { name: 'row trigger, no transition insert', install: `${DROP_TRIGGERS} ${rowTrigger({ insert: false, notify: true })} ${ROW_TRIGGER}` },
  { name: 'row trigger, check only', install: `${DROP_TRIGGERS} ${rowTrigger({ insert: false, notify: false })} ${ROW_TRIGGER}` },
  { name: 'no trigger', install: DROP_TRIGGERS },
  { name: 'statement trigger, 1 notice/stmt', install: `${DROP_TRIGGERS} ${STATEMENT_TRIGGERS}` },
  { name: 'statement trigger, no notice', install: `${DROP_TRIGGERS} ${STATEMENT_TRIGGERS_NO_NOTIFY}` },
  { name: 'row trigger as is, former guards', install: `${DROP_TRIGGERS} ${rowTrigger({ insert: true, notify: true })} ${ROW_TRIGGER}`, formerGuards: true },
  { name: 'no trigger, former guards', install: DROP_TRIGGERS, formerGuards: true },
];

const PHASES = ['create', 'relay', 'claim', 'complete'] as const;
type Phase = (typeof PHASES)[number];

/** Knex-style `?` placeholders (as the services write them) to pg's `$n`; none of these statements uses `?` otherwise. */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

function cpuNs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
}

async function backendPid(client: pg.Client): Promise<number> {
  return Number((await client.query('select pg_backend_pid() as pid')).rows[0].pid);
}

const FORMER_CLAIM_SQL = numbered(`update task set status = 'processing', attempt = attempt + 1, updated_at = clock_timestamp()
  where id = any(?::uuid[])
    and ((status = 'pending' and queued_at <= clock_timestamp())
         or (status = 'processing' and (?::boolean or coalesce(updated_at, created_at) < clock_timestamp() - ?::interval)))
  returning *`);
const FORMER_COMPLETE_SQL = numbered(`update task set status = 'completed', updated_at = clock_timestamp()
   from json_to_recordset(?::json) as held(id uuid, attempt int)
  where task.id = held.id and task.status = 'processing' and task.attempt = held.attempt
  returning task.id, task.attempt, task.created_at, task.updated_at`);
const CLAIM_SQL = numbered(CLAIM_MANY_SQL);
const COMPLETE_SQL = numbered(COMPLETE_MANY_SQL);
const RELAY_SQL = numbered(TAKE_DUE_ENTRIES_SQL);

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

interface Sample {
  wallMs: number;
  workerNs: number;
  listenerNs: number;
  walBytes: number;
  statements: number;
}

/** Per phase, the sums over a variant's rounds. */
function emptySamples(): Map<Phase, Sample> {
  return new Map(PHASES.map((p) => [p, { wallMs: 0, workerNs: 0, listenerNs: 0, walBytes: 0, statements: 0 }]));
}

/** The warm-up round's samples, measured like the others and then left out. */
const WARM_UP = '(warm-up)';

async function main(): Promise<void> {
  const only = process.argv[4]?.split(',').map(Number);
  const variants = only ? VARIANTS.filter((_, i) => only.includes(i)) : VARIANTS;
  const name = `taskproc_micro_sql_${process.pid}`;
  const url = databaseUrlFor(baseUrl, name);
  await createDatabaseIfMissing(url);
  await migrateDatabase(url);
  const worker = new pg.Client({ connectionString: url, application_name: 'micro-worker' });
  await worker.connect();
  const listeners = await Promise.all(
    ['taskproc_task_changed, taskproc_task_changes', 'taskproc_task_canceled', 'taskproc_task_canceled'].map(async (channels) => {
      const client = new pg.Client({ connectionString: url, application_name: 'micro-listener' });
      await client.connect();
      for (const channel of channels.split(', ')) await client.query(`LISTEN ${channel}`);
      let notices = 0;
      client.on('notification', () => (notices += 1));
      return { client, pid: await backendPid(client), notices: () => notices };
    }),
  );
  const workerPid = await backendPid(worker);
  const execute = async (sql: string, params: unknown[]) => (await worker.query(numbered(sql), params)).rows as Record<string, unknown>[];
  const wal = async () => Number((await worker.query(`select pg_current_wal_lsn() - '0/0'::pg_lsn as b`)).rows[0].b);
  const totals = new Map<string, Map<Phase, Sample>>([[WARM_UP, emptySamples()], ...variants.map((v) => [v.name, emptySamples()] as const)]);
  const settle = () => new Promise((resolve) => setTimeout(resolve, 30)); // listeners read their notices

  async function measure(variant: string, phase: Phase, work: () => Promise<number>): Promise<void> {
    await settle();
    const w0 = cpuNs(workerPid);
    const l0 = listeners.reduce((sum, l) => sum + cpuNs(l.pid), 0);
    const wal0 = await wal();
    const t0 = performance.now();
    const statements = await work();
    const wallMs = performance.now() - t0;
    const wal1 = await wal();
    await settle();
    const sample = totals.get(variant)!.get(phase)!;
    sample.wallMs += wallMs;
    sample.workerNs += cpuNs(workerPid) - w0;
    sample.listenerNs += listeners.reduce((sum, l) => sum + cpuNs(l.pid), 0) - l0;
    sample.walBytes += wal1 - wal0;
    sample.statements += statements;
  }

  for (let round = 0; round <= rounds; round++) {
    for (const variant of variants) {
      await worker.query(variant.install);
      const key = round === 0 ? WARM_UP : variant.name;
      const ids: string[] = [];
      await measure(key, 'create', async () => {
        let n = 0;
        for (const batch of chunks(Array.from({ length: tasksPerRound }, (_, i) => i), createBatch)) {
          const outcomes = await createTasks(execute, batch.map(() => ({ tenant: 'default', content: 'micro task' })), 86_400_000);
          for (const outcome of outcomes) ids.push((outcome as { task: { id: string } }).task.id);
          n += 1;
        }
        return n;
      });
      await measure(key, 'relay', async () => {
        let n = 0;
        for (;;) {
          await worker.query('begin');
          const rows = (await worker.query(RELAY_SQL, [relayBatch])).rows.filter((row) => row.id !== null);
          await worker.query('commit');
          n += 1;
          if (rows.length < relayBatch) return n;
        }
      });
      const claimed: { id: string; attempt: number }[] = [];
      await measure(key, 'claim', async () => {
        let n = 0;
        for (const batch of chunks(ids, claimBatch)) {
          const rows = (await worker.query(variant.formerGuards || FORMER_ALL ? FORMER_CLAIM_SQL : CLAIM_SQL, [`{${batch.join(',')}}`, false, '300000 milliseconds'])).rows;
          for (const row of rows) claimed.push({ id: String(row.id), attempt: Number(row.attempt) });
          n += 1;
        }
        if (claimed.length !== ids.length) throw new Error(`${variant.name}: claimed ${claimed.length} of ${ids.length}`);
        return n;
      });
      await measure(key, 'complete', async () => {
        let n = 0;
        let done = 0;
        for (const batch of chunks(claimed, claimBatch)) {
          done += (await (variant.formerGuards || FORMER_ALL ? worker.query(FORMER_COMPLETE_SQL, [JSON.stringify(batch)]) : worker.query(COMPLETE_SQL, [JSON.stringify(batch), `{${batch.map((b) => b.id).join(',')}}`]))).rowCount ?? 0;
          n += 1;
        }
        if (done !== ids.length) throw new Error(`${variant.name}: completed ${done} of ${ids.length}`);
        return n;
      });
    }
  }
  totals.delete(WARM_UP);

  const tasks = rounds * tasksPerRound;
  const us = (ns: number) => (ns / 1000 / tasks).toFixed(1);
  process.stdout.write(
    `${rounds} rounds x ${tasksPerRound} tasks per variant; create batch ${createBatch}, relay batch ${relayBatch}, claim/complete batch ${claimBatch}\n` +
      `per task: backend CPU µs of the statements' backend (create / relay / claim / complete = sum), listeners' CPU µs, wall µs, WAL bytes\n`,
  );
  for (const [variant, phases] of totals) {
    const parts = PHASES.map((p) => us(phases.get(p)!.workerNs));
    const worker = [...phases.values()].reduce((s, x) => s + x.workerNs, 0);
    const listener = [...phases.values()].reduce((s, x) => s + x.listenerNs, 0);
    const wall = [...phases.values()].reduce((s, x) => s + x.wallMs, 0);
    const walBytes = [...phases.values()].reduce((s, x) => s + x.walBytes, 0);
    process.stdout.write(
      `${variant.padEnd(36)} ${parts.join(' / ')} = ${us(worker).padStart(6)}  listeners ${us(listener).padStart(5)}  all ${us(worker + listener).padStart(6)}  wall ${((wall * 1000) / tasks).toFixed(0).padStart(5)}  WAL ${(walBytes / tasks).toFixed(0)}\n`,
    );
  }
  process.stdout.write(`notices received by the listeners: ${listeners.map((l) => l.notices()).join(', ')}\n`);
  await worker.end();
  for (const l of listeners) await l.client.end();
  await dropDatabase(url);
}

await main();
