import { Migration } from '@mikro-orm/migrations';

/**
 * Written by hand: every task belongs to a tenant.
 *
 * - task.tenant names it (the tenant of the token that created the task).
 *   Tasks that existed before, and every task created with authentication
 *   off, belong to 'default'. A constant default keeps the ALTER from
 *   rewriting the table; the CHECK mirrors TENANT_PATTERN (src/tenants.ts),
 *   one scan of the rows that exist.
 * - Every read and change a client asks for is scoped by tenant in its SQL,
 *   so another tenant's task looks exactly like a missing one. Listing pages
 *   newest first within one tenant: the listing indexes lead with tenant
 *   (and replace the round-2 ones, which no query uses any longer). The
 *   status one also serves GetTaskStats' count by status of one tenant as
 *   an index-only scan.
 * - NOTIFY taskproc_task_changed carries the tenant too, so watch fan-out
 *   drops changes of tenants nobody in a process watches before reading
 *   anything. The cancel notice the processors listen to stays the task id
 *   alone: a processor acts on the tasks it holds, whoever owns them.
 */
export class Migration20261201100000_tenants extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "task" add column "tenant" text not null default 'default',
      add constraint "task_tenant_check" check (tenant ~ '^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$');`);
    this.addSql(`drop index "task_created_at_id_idx";`);
    this.addSql(`drop index "task_status_created_at_id_idx";`);
    this.addSql(`create index "task_tenant_created_at_id_idx" on "task" ("tenant", "created_at" desc, "id" desc);`);
    this.addSql(`create index "task_tenant_status_created_at_id_idx" on "task" ("tenant", "status", "created_at" desc, "id" desc);`);

    // The round-2 trigger with the tenant added to the change notice.
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
            'id', new.id, 'tenant', new.tenant, 'status', new.status, 'attempt', new.attempt, 'transition', transition_id)::text);
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
          'id', new.id, 'tenant', new.tenant, 'status', new.status, 'attempt', new.attempt, 'transition', transition_id)::text);
        if new.status = 'canceled' then
          perform pg_notify('taskproc_task_canceled', new.id::text);
        end if;
        return new;
      end
    $$;`);
  }
}
