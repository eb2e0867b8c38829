import { useEffect, useState } from 'preact/hooks';
import { createQueryOptions } from '@connectrpc/connect-query-core';
import { TaskService } from '@taskproc/contract';
import { describeError } from '../api.js';
import type { LiveHub } from '../live-hub.js';
import { useApi, useQuery } from '../query-hooks.js';
import { RATE_KINDS } from '../rates.js';
import { statusName } from '../status.js';
import { formatDuration } from '../time.js';
import { Section } from './common.js';
import { RateChart } from './RateChart.js';

// Counts are read again soon after the stream reports changes (at most once
// per STATS_AFTER_CHANGE_MS), and every STATS_EVERY_MS regardless: each read
// is one grouped count on the server (docs/dashboard.md says what it costs).
const STATS_EVERY_MS = 5_000;
const STATS_AFTER_CHANGE_MS = 1_000;
const HEALTH_EVERY_MS = 5_000;

/** Counts by status, live rates and latency, and the system's state. */
export function Overview({ hub }: { hub: LiveHub }) {
  const { transport, queries } = useApi();
  const statsOptions = createQueryOptions(TaskService.method.getTaskStats, {}, { transport });
  const stats = useQuery({ ...statsOptions, refetchInterval: STATS_EVERY_MS });
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = hub.onTask(() => {
      timer ??= setTimeout(() => {
        timer = undefined;
        void queries.invalidateQueries({ queryKey: statsOptions.queryKey });
      }, STATS_AFTER_CHANGE_MS);
    });
    return () => {
      off();
      clearTimeout(timer);
    };
  }, [hub, queries]);
  const health = useQuery({ ...createQueryOptions(TaskService.method.checkHealth, {}, { transport }), refetchInterval: HEALTH_EVERY_MS, retry: false });
  const now = useNow(1_000);
  const data = stats.data;
  const p50 = hub.latency.percentile(50, now);
  const p99 = hub.latency.percentile(99, now);
  const samples = hub.latency.count(now);

  return (
    <>
      <Section title="Tasks by status" id="counts">
        {stats.error && !data ? <p class="error" role="alert">Counts unavailable: {describeError(stats.error)}</p> : null}
        <ul class="counts" aria-live="polite">
          {(data?.counts ?? []).map((count) => (
            <li key={count.status} class={`count status-${statusName(count.status)}`} data-count={statusName(count.status)}>
              <span class="count-label">{statusName(count.status)}</span>
              <span class="count-value">{count.count.toLocaleString()}</span>
            </li>
          ))}
        </ul>
      </Section>

      <Section title="Throughput" id="rates">
        <RateChart rates={hub.rates} />
        <table class="rates">
          <caption>Per second, mean of the last 10 s (counted in this browser from the live stream)</caption>
          <thead>
            <tr>
              {RATE_KINDS.map((kind) => (
                <th scope="col" key={kind}>
                  {kind}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            <tr>
              {RATE_KINDS.map((kind) => (
                <td key={kind} data-rate={kind}>
                  {hub.rates.perSecond(kind, now).toFixed(1)}
                </td>
              ))}
            </tr>
          </tbody>
        </table>
        <p class="latency" data-latency>
          Create → completed/failed, last 5 min ({samples} task{samples === 1 ? '' : 's'} seen here): p50 <strong>{formatDuration(p50)}</strong>, p99{' '}
          <strong>{formatDuration(p99)}</strong>
        </p>
      </Section>

      <Section title="System" id="system">
        <dl class="system">
          <div>
            <dt>task-api</dt>
            <dd data-health={health.error ? 'down' : health.data ? 'ok' : 'unknown'}>
              {health.error ? `unavailable (${describeError(health.error)})` : health.data ? 'healthy' : '…'}
            </dd>
          </div>
          <div>
            <dt>Processors connected</dt>
            <dd data-processors>{data ? (data.brokerError ? 'unknown' : data.processors) : '…'}</dd>
          </div>
          <div>
            <dt>Outbox backlog</dt>
            <dd data-backlog>
              {data ? data.outboxBacklog.toLocaleString() : '…'}
              {data?.oldestDueOutboxAge ? ` (oldest due ${formatDuration(Number(data.oldestDueOutboxAge.seconds) * 1000 + data.oldestDueOutboxAge.nanos / 1e6)})` : ''}
            </dd>
          </div>
          <div>
            <dt>Dead-lettered messages</dt>
            <dd data-dead-lettered>{data ? (data.brokerError ? 'unknown' : data.deadLettered.toLocaleString()) : '…'}</dd>
          </div>
        </dl>
        {data?.brokerError ? <p class="warning" role="status">Broker: {data.brokerError}</p> : null}
        {stats.error && data ? <p class="warning" role="status">Stats are stale: {describeError(stats.error)}</p> : null}
      </Section>
    </>
  );
}

function useNow(everyMs: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}
