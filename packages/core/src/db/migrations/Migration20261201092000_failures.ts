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
 *   NOTIFY taskproc_outbox_due, the payload being how many milliseconds from
 *   now the earliest of the statement's entries is due. The outbox relays in
 *   task-api arm one timer for the earliest time they know of, so an entry
 *   committed by any process (a processor's failed attempt) is published on
 *   time without polling. One notice per statement (a transition table, not
 *   a row trigger): a batch of entries costs one notice. Entries due at once
 *   send none; whoever commits them wakes its relay directly.
 */
export class Migration20261201092000_failures extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "task" add column "failed_attempts" integer not null default 0;`);
    this.addSql(`create or replace function outbox_announce_due() returns trigger language plpgsql as $$
      declare
        due_in_ms double precision;
      begin
        select extract(epoch from (min(not_before) - clock_timestamp())) * 1000 into due_in_ms from inserted;
        if due_in_ms > 0 then
          perform pg_notify('taskproc_outbox_due', ceil(due_in_ms)::bigint::text);
        end if;
        return null;
      end
    $$;`);
    this.addSql(`create trigger "outbox_announce_due" after insert on "outbox"
      referencing new table as inserted for each statement execute function outbox_announce_due();`);
  }
}
