import { Migration } from '@mikro-orm/migrations';

/**
 * Written by hand: the W3C trace context (traceparent, tracestate as JSON) of
 * the create that wrote an outbox entry, so the relay's publish continues the
 * create's trace across the outbox. Null when tracing is off or the entry was
 * written without a span (a stale-task re-queue).
 */
export class Migration20261201094000_trace_context extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "outbox" add column "trace_context" text null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "outbox" drop column "trace_context";`);
  }
}
