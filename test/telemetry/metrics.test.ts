import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '@taskproc/gateway';
import { createLogger } from '@taskproc/core';
import { readProcessorConfig, startProcessor, type Processor } from '@taskproc/processor';
import { RestClient } from '../rest/rest-client.js';
import { startTaskApiHarness, type TaskApiHarness } from '../support/task-api-harness.js';
import { loadTestEnv } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import { promtoolCheckMetrics, startPrometheus, type RunningPrometheus } from './support/prometheus-server.js';

// A real Prometheus scrapes a running task-api, processor and embedded
// gateway; after a known set of tasks, its PromQL answers must equal what
// the database holds, and every service's exposition must pass promtool.

const REST_CREATES = 10;
const CONNECT_CREATES = 2;
const CANCELS = 3;

let harness: TaskApiHarness;
let processor: Processor;
let gateway: RunningGateway;
let prometheus: RunningPrometheus;
let db: pg.Client;

const hostPort = (url: string) => new URL(url).host;

beforeAll(async () => {
  harness = await startTaskApiHarness('metrics');
  const env = loadTestEnv();
  const processorConfig = readProcessorConfig({
    ...env,
    DATABASE_URL: harness.database.url,
    QUEUE_NAMESPACE: harness.config.queueNamespace,
    PROCESSING_DURATION_MS: '1500',
  });
  processor = await startProcessor(processorConfig, createLogger('processor', processorConfig.logLevel));
  gateway = await startGateway(
    { host: '127.0.0.1', port: 0, upstreamUrl: harness.api.url, logLevel: 'silent', metrics: { host: '127.0.0.1', port: 0 } },
    { logger: createLogger('gateway', 'silent') },
  );
  prometheus = await startPrometheus([
    { job: 'task-api', address: hostPort(harness.api.metricsUrl) },
    { job: 'processor', address: hostPort(processor.metricsUrl) },
    { job: 'gateway', address: hostPort(gateway.metricsUrl) },
  ]);
  db = new pg.Client({ connectionString: harness.database.url });
  await db.connect();
}, 300_000);

afterAll(async () => {
  await db?.end();
  await prometheus?.close();
  await gateway?.close();
  await processor?.close();
  await harness?.close();
}, 120_000);

async function countsInDatabase(): Promise<{ total: number; completed: number; canceled: number; unfinished: number }> {
  const { rows } = await db.query<{ total: number; completed: number; canceled: number; unfinished: number }>(
    `select count(*)::int as total,
            count(*) filter (where status = 'completed')::int as completed,
            count(*) filter (where status = 'canceled')::int as canceled,
            count(*) filter (where status in ('pending', 'processing'))::int as unfinished
       from task`,
  );
  return rows[0]!;
}

describe('metrics scraped by a real Prometheus', { timeout: 180_000 }, () => {
  it('counts tasks, transitions and RPCs exactly as the database holds them', async () => {
    const rest = new RestClient(gateway.url);
    const ids: string[] = [];
    for (let i = 0; i < REST_CREATES; i++) {
      const answer = await rest.createTask(`metrics ${i}`);
      expect(answer.status).toBe(201);
      ids.push(answer.json.id as string);
    }
    for (let i = 0; i < CONNECT_CREATES; i++) {
      const response = await fetch(`${harness.api.url}/taskproc.v1.TaskService/CreateTask`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ content: `connect ${i}` }),
      });
      expect(response.status).toBe(200);
    }
    // Cancel the latest few at once: each lands while the task is pending or
    // processing (an answer of 400 would mean it was already final).
    for (const id of ids.slice(-CANCELS)) expect((await rest.cancelTask(id)).status).toBe(200);
    // A message no task stands for: the processor sets it aside.
    const connection = await amqp.connect(harness.config.amqpUrl);
    const channel = await connection.createConfirmChannel();
    channel.sendToQueue(harness.topology.taskQueue, Buffer.from('not json'), { persistent: true });
    await channel.waitForConfirms();
    await connection.close();

    const final = await waitFor(countsInDatabase, (c) => c.total === REST_CREATES + CONNECT_CREATES && c.unfinished === 0, {
      timeoutMs: 60_000,
      intervalMs: 200,
      description: 'every task to reach a final status',
    });
    expect(final.canceled).toBeGreaterThanOrEqual(1);

    const expectations: [string, number][] = [
      ['sum(taskproc_tasks_created_total)', final.total],
      ['sum(taskproc_task_transitions_total{status="completed"})', final.completed],
      ['sum(taskproc_task_transitions_total{status="canceled"})', final.canceled],
      ['sum(taskproc_task_time_to_final_status_seconds_count{status="completed"})', final.completed],
      ['sum(taskproc_task_time_to_final_status_seconds_count{status="canceled"})', final.canceled],
      ['sum(rpc_server_call_duration_seconds_count{rpc_method="CreateTask",rpc_grpc_status_code="0"})', final.total],
      ['sum(rpc_server_call_duration_seconds_count{rpc_method="CreateTask",rpc_system="connect_rpc"})', CONNECT_CREATES],
      ['sum(rpc_server_call_duration_seconds_count{rpc_method="CancelTask",rpc_grpc_status_code="0"})', CANCELS],
      ['sum(http_server_request_duration_seconds_count{http_route="/task",http_request_method="POST",http_response_status_code="201"})', REST_CREATES],
      ['sum(taskproc_outbox_published_total)', final.total],
      ['sum(taskproc_messages_dead_lettered_total{reason="malformed_body"})', 1],
      ['max(taskproc_outbox_backlog)', 0],
      ['count(up == 1)', 3],
    ];
    const seen = await waitFor(
      () => Promise.all(expectations.map(([query]) => prometheus.scalar(query))),
      (values) => values.every((value, i) => value === expectations[i]![1]),
      { timeoutMs: 60_000, intervalMs: 500, description: 'Prometheus to report the database counts' },
    );
    expect(Object.fromEntries(expectations.map(([query], i) => [query, seen[i]]))).toEqual(Object.fromEntries(expectations));

    // Histograms hold observations in their buckets, not only counts.
    for (const histogram of [
      'rpc_server_call_duration_seconds_bucket',
      'taskproc_task_time_to_final_status_seconds_bucket',
      'taskproc_outbox_confirm_duration_seconds_bucket',
      'taskproc_outbox_publish_delay_seconds_bucket',
      'http_server_request_duration_seconds_bucket',
    ]) {
      expect(await prometheus.scalar(`sum(${histogram}{le="+Inf"})`), histogram).toBeGreaterThan(0);
    }
    // Default process metrics come from every service.
    expect(await prometheus.scalar('count(process_cpu_seconds_total)')).toBe(3);
    expect(await prometheus.scalar('sum(taskproc_consumer_prefetch_limit)')).toBe(processorConfigPrefetch());
  });

  it('every service exposition passes promtool check metrics', async () => {
    for (const url of [harness.api.metricsUrl, processor.metricsUrl, gateway.metricsUrl]) {
      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/plain');
      const text = await response.text();
      expect(text).toContain('process_cpu_seconds_total');
      await expect(promtoolCheckMetrics(text), url).resolves.toBeDefined();
    }
  });

  it('exports every metric docs/telemetry.md lists, and documents every one it exports', async () => {
    const docs = readFileSync(fileURLToPath(new URL('../../docs/telemetry.md', import.meta.url)), 'utf8');
    const documented = new Set([...docs.matchAll(/^\| `((?:taskproc|rpc|http)_[a-z_]+)` \|/gm)].map((m) => m[1]!));
    const exported = new Set<string>();
    for (const url of [harness.api.metricsUrl, processor.metricsUrl, gateway.metricsUrl]) {
      for (const [, name] of (await (await fetch(url)).text()).matchAll(/^# TYPE ((?:taskproc|rpc|http)_[a-z_]+) /gm)) exported.add(name!);
    }
    expect([...exported].sort()).toEqual([...documented].sort());
  });

  it('answers 404 off /metrics and bounds the label sets (no task ids)', async () => {
    expect((await fetch(harness.api.metricsUrl.replace('/metrics', '/other'))).status).toBe(404);
    for (const url of [harness.api.metricsUrl, processor.metricsUrl, gateway.metricsUrl]) {
      const text = await (await fetch(url)).text();
      expect(text).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i);
    }
  });
});

function processorConfigPrefetch(): number {
  return Number(loadTestEnv().PROCESSOR_PREFETCH);
}
