import { Migration } from '@mikro-orm/migrations';

/**
 * Written by hand: work that can fail, and queue entries that wait.
 *
 * - task.failed_attempts counts the attempts whose handler failed (threw,
 *   rejected or timed out) since the task was created or last retried. It is
 *   what TASK_MAX_ATTEMPTS bounds. `attempt` keeps counting every claim, so
 *   `attempt - failed_attempts` is how many attempts were interrupted (the
 *   processor died or stopped mid-attempt): an interrupted attempt is not a
 *   failed one, and the crash-loop cap bounds those separately.
 * - An entry put in the outbox with a not_before in the future (a failed
 *   attempt's backoff, a scheduled task) announces itself on commit with
 *   NOTIFY taskproc_outbox_due, the payload being in how many milliseconds
 *   it is due. The outbox relays in task-api arm one timer for the earliest
 *   time they know of, so an entry committed by any process (a processor's
 *   failed attempt) is published on time without polling. A row trigger
 *   whose WHEN clause picks the waiting entries only: an entry due at once
 *   (every create) costs one comparison in C and no function call, and
 *   whoever commits it wakes its relay directly. An entry due within a
 *   millisecond of its insert is not announced; the relay's poll finds it.
 */
export class Migration20261201092000_failures extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "task" add column "failed_attempts" integer not null default 0;`);
    this.addSql(`create or replace function outbox_announce_due() returns trigger language plpgsql as $$
      begin
        perform pg_notify('taskproc_outbox_due',
          greatest(1, ceil(extract(epoch from (new.not_before - clock_timestamp())) * 1000))::bigint::text);
        return null;
      end
    $$;`);
    // created_at and not_before both default to clock_timestamp(), a few
    // microseconds apart: only an explicit later not_before passes.
    this.addSql(`create trigger "outbox_announce_due" after insert on "outbox" for each row
      when (new.not_before > new.created_at + interval '1 millisecond') execute function outbox_announce_due();`);
  }
}
