import { Migration } from '@mikro-orm/migrations';

/**
 * Written by hand: recovery of tasks whose message was lost to the system
 * (dead-lettered at the delivery limit after repeated interruptions, or
 * purged by an operator).
 *
 * queued_at is when the task was last put in the outbox (at create, and at
 * each re-queue); it keeps the sweeper from queuing a task again while its
 * last message may still be waiting in a backlog. The partial index serves
 * the sweeper's scan of unfinished tasks only.
 */
export class Migration20261128154000_stale_tasks extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "task" add column "queued_at" timestamptz(6) not null default clock_timestamp();`);
    this.addSql(`create index "task_unfinished_queued_at_idx" on "task" ("queued_at") where status in ('pending', 'processing');`);
  }
}
