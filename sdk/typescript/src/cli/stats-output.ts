import type { GetTaskStatsResponse } from '@taskproc/contract';
import { statusName } from '../task-json.js';

/** `taskctl stats --json`: the REST shape of GET /stats, with status names and plain numbers. */
export interface StatsJson {
  counts: Record<string, number>;
  outbox_backlog: number;
  /** Seconds; null when no entry is due. */
  oldest_due_outbox_age_seconds: number | null;
  dead_lettered: number;
  processors: number;
  /** Empty when the broker answered. */
  broker_error: string;
}

export function toStatsJson(stats: GetTaskStatsResponse): StatsJson {
  const age = stats.oldestDueOutboxAge;
  return {
    counts: Object.fromEntries(stats.counts.map((count) => [statusName(count.status), Number(count.count)])),
    outbox_backlog: Number(stats.outboxBacklog),
    oldest_due_outbox_age_seconds: age ? Number(age.seconds) + age.nanos / 1e9 : null,
    dead_lettered: Number(stats.deadLettered),
    processors: stats.processors,
    broker_error: stats.brokerError,
  };
}

export function describeStats(stats: StatsJson): string {
  const unknown = stats.broker_error !== '';
  const lines = Object.entries(stats.counts).map(([status, count]) => `${`${status}:`.padEnd(18)} ${count}`);
  lines.push(
    `${'outbox backlog:'.padEnd(18)} ${stats.outbox_backlog}${stats.oldest_due_outbox_age_seconds === null ? '' : ` (oldest due ${stats.oldest_due_outbox_age_seconds.toFixed(1)} s)`}`,
    `${'dead-lettered:'.padEnd(18)} ${unknown ? 'unknown' : stats.dead_lettered}`,
    `${'processors:'.padEnd(18)} ${unknown ? 'unknown' : stats.processors}`,
  );
  if (unknown) lines.push(`${'broker:'.padEnd(18)} ${stats.broker_error}`);
  return `${lines.join('\n')}\n`;
}
