import { Migration } from '@mikro-orm/migrations';

/**
 * Written by hand: the schema of the round-2 contract, shared by listing and
 * watching, failing work, retries and create options.
 *
 * - A fifth status, `failed`, with the arrows the contract adds:
 *   processing -> pending (an attempt failed and another is due),
 *   processing -> failed (the last attempt failed), failed -> pending (an
 *   explicit retry). The CHECK constraint and the trigger admit exactly the
 *   contract's diagram, whatever code issues the change.
 * - task.error is why the latest attempt failed; task_transition.error keeps
 *   it per event, so a task's history shows every attempt's error.
 * - task.schedule_time is when a scheduled task becomes due (null: at once);
 *   outbox.not_before is when its queue entry may be published. A failed
 *   attempt's backoff uses the same not-before time, so the wait holds no
 *   broker message and no prefetch slot, and survives restarts.
 * - Every change of status sends NOTIFY taskproc_task_changed (delivered on
 *   commit only, in commit order) with the task id, its new status and
 *   attempt, and the id of its task_transition row, so watchers follow tasks
 *   without polling; the cancel notice the processors listen to stays as it
 *   was.
 * - Listing newest first pages on (created_at, id) with an index per filter.
 */
export class Migration20261201090000_round2_contract extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "task" drop constraint "task_status_check";`);
    this.addSql(`alter table "task" add constraint "task_status_check" check (status in ('pending', 'processing', 'completed', 'canceled', 'failed'));`);
    this.addSql(`alter table "task" add column "error" text null, add column "schedule_time" timestamptz(6) null;`);
    this.addSql(`alter table "task_transition" add column "error" text null;`);
    this.addSql(`alter table "outbox" add column "not_before" timestamptz(6) not null default clock_timestamp();`);
    this.addSql(`create index "outbox_not_before_idx" on "outbox" ("not_before");`);
    this.addSql(`create index "task_created_at_id_idx" on "task" ("created_at" desc, "id" desc);`);
    this.addSql(`create index "task_status_created_at_id_idx" on "task" ("status", "created_at" desc, "id" desc);`);

    this.addSql(`create or replace function task_guard_transition() returns trigger language plpgsql as $$
      declare
        transition_id bigint;
        attempt_error text;
      begin
        if tg_op = 'INSERT' then
          if new.status <> 'pending' then
            raise exception 'a task starts pending, not %', new.status using errcode = 'check_violation';
          end if;
          insert into task_transition (task_id, from_status, to_status, attempt)
            values (new.id, null, new.status, new.attempt) returning id into transition_id;
          perform pg_notify('taskproc_task_changed', json_build_object(
            'id', new.id, 'status', new.status, 'attempt', new.attempt, 'transition', transition_id)::text);
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
        -- An attempt's error belongs to the event that ended it: back to
        -- pending for another attempt, or failed for good.
        if old.status = 'processing' and new.status in ('pending', 'failed') then
          attempt_error := new.error;
        end if;
        insert into task_transition (task_id, from_status, to_status, attempt, error)
          values (new.id, old.status, new.status, new.attempt, attempt_error) returning id into transition_id;
        perform pg_notify('taskproc_task_changed', json_build_object(
          'id', new.id, 'status', new.status, 'attempt', new.attempt, 'transition', transition_id)::text);
        if new.status = 'canceled' then
          perform pg_notify('taskproc_task_canceled', new.id::text);
        end if;
        return new;
      end
    $$;`);
  }
}
