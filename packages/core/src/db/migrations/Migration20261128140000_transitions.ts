import { Migration } from '@mikro-orm/migrations';

/**
 * Written by hand: what the entity schemas cannot express.
 *
 * - task_transition records every change of status (and every re-claim), so a
 *   checker can prove no illegal transition ever happened.
 * - A trigger refuses any change outside the contract's diagram, whatever code
 *   issued it: pending -> processing | canceled; processing -> processing
 *   (a re-claim after the holder died) | completed | canceled.
 * - When a task becomes canceled the same trigger sends NOTIFY
 *   taskproc_task_canceled with the task id. PostgreSQL delivers it on commit
 *   and only on commit, so a processor hears of exactly the cancels that
 *   happened, with no second write to keep consistent.
 */
export class Migration20261128140000_transitions extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "task_transition" (
      "id" bigserial primary key,
      "task_id" uuid not null references "task" ("id") on delete cascade,
      "from_status" text null,
      "to_status" text not null,
      "attempt" int not null,
      "at" timestamptz(6) not null default clock_timestamp()
    );`);
    this.addSql(`create index "task_transition_task_id_idx" on "task_transition" ("task_id");`);

    this.addSql(`create function task_guard_transition() returns trigger language plpgsql as $$
      begin
        if tg_op = 'INSERT' then
          if new.status <> 'pending' then
            raise exception 'a task starts pending, not %', new.status using errcode = 'check_violation';
          end if;
          insert into task_transition (task_id, from_status, to_status, attempt)
            values (new.id, null, new.status, new.attempt);
          return new;
        end if;
        if new.status = old.status and new.attempt = old.attempt then
          return new;
        end if;
        if not (
          (old.status = 'pending' and new.status in ('processing', 'canceled'))
          or (old.status = 'processing' and new.status in ('processing', 'completed', 'canceled'))
        ) then
          raise exception 'illegal task transition % -> %', old.status, new.status using errcode = 'check_violation';
        end if;
        insert into task_transition (task_id, from_status, to_status, attempt)
          values (new.id, old.status, new.status, new.attempt);
        if new.status = 'canceled' then
          perform pg_notify('taskproc_task_canceled', new.id::text);
        end if;
        return new;
      end
    $$;`);
    this.addSql(`create trigger "task_guard_transition" after insert or update on "task"
      for each row execute function task_guard_transition();`);
  }
}
