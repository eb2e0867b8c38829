import { Migration } from '@mikro-orm/migrations';

/**
 * Written by hand: idempotency keys of creates (request_id).
 *
 * - One row per (tenant, request_id): the primary key is what makes two
 *   concurrent creates with one key create one task. Every create runs
 *   INSERT ... ON CONFLICT on it in the statement that inserts the task, so
 *   the database, not a read before the insert, decides who was first.
 *   There is one tenant, 'default', until requests carry their tenant.
 * - content_hash is the SHA-256 of what the first create asked for
 *   (content and schedule_time): a repeat that hashes the same gets the
 *   first task, any other is ALREADY_EXISTS.
 * - expires_at ends the key's lifetime (24 h by default). An expired key is
 *   free at once (the create that meets it takes it over in its ON
 *   CONFLICT); the cleanup in task-api deletes expired rows later, a
 *   bounded batch per statement, with row locks only (SKIP LOCKED), so
 *   creates never wait on it. The index serves that cleanup.
 * - The key goes with its task (ON DELETE CASCADE).
 */
export class Migration20261201093000_idempotency extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "idempotency_key" (
      "tenant" text not null default 'default',
      "request_id" text not null,
      "content_hash" bytea not null,
      "task_id" uuid not null references "task" ("id") on delete cascade,
      "created_at" timestamptz(6) not null default clock_timestamp(),
      "expires_at" timestamptz(6) not null,
      constraint "idempotency_key_pkey" primary key ("tenant", "request_id")
    );`);
    this.addSql(`create index "idempotency_key_expires_at_idx" on "idempotency_key" ("expires_at");`);
    this.addSql(`create index "idempotency_key_task_id_idx" on "idempotency_key" ("task_id");`);
  }
}
