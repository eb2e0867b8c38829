import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { TaskService } from '@taskproc/contract';
import { taskTopology } from '@taskproc/core';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { deleteNamespace, testNamespace } from '../support/test-broker.js';
import { loadTestEnv } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './support/otlp-receiver.js';
import { freePort, spawnService, type ServiceProcess } from './support/service-processes.js';

// task-api, processor and the embedded gateway as their own processes,
// exporting over OTLP/HTTP (OTEL_EXPORTER_OTLP_ENDPOINT) to a receiver in
// this test: one create over REST must come back as one trace, from the
// caller's traceparent through the outbox and the broker to the completion.

const SPAN_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 };

let receiver: OtlpReceiver;
let database: TestDatabase;
let namespace: string;
let services: ServiceProcess[] = [];
let gatewayUrl: string;
let taskApiUrl: string;
let processor: ServiceProcess;
const env = loadTestEnv();

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  database = await createTestDatabase(env.DATABASE_URL!, 'traces');
  namespace = testNamespace('traces');
  const shared = {
    ...env,
    DATABASE_URL: database.url,
    QUEUE_NAMESPACE: namespace,
    LOG_LEVEL: 'info',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    // Long enough for a cancel to land while the work runs.
    PROCESSING_DURATION_MS: '2000',
  };
  const apiPort = await freePort();
  const gatewayPort = await freePort();
  taskApiUrl = `http://127.0.0.1:${apiPort}`;
  gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const api = spawnService('task-api', { ...shared, TASK_API_PORT: String(apiPort) });
  services.push(api);
  await api.waitForLog('task-api listening');
  processor = spawnService('processor', shared);
  services.push(processor);
  const gateway = spawnService('gateway', { ...shared, GATEWAY_PORT: String(gatewayPort), GATEWAY_UPSTREAM_URL: taskApiUrl });
  services.push(gateway);
  await Promise.all([processor.waitForLog('consuming tasks'), gateway.waitForLog('gateway listening')]);
}, 400_000);

afterAll(async () => {
  await Promise.all(services.map((s) => s.stop()));
  await receiver?.close();
  await deleteNamespace(env.AMQP_URL!, taskTopology(namespace, Number(env.QUEUE_DELIVERY_LIMIT))).catch(() => {});
  await database?.drop();
}, 120_000);

function traceparent(): { header: string; traceId: string; spanId: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { header: `00-${traceId}-${spanId}-01`, traceId, spanId };
}

/** The spans of one trace, once the completion's span has arrived. */
function traceWithCompletion(traceId: string): Promise<ReceivedSpan[]> {
  return waitFor(
    () => receiver.spans.filter((s) => s.traceId === traceId),
    (spans) => spans.some((s) => s.name === 'complete task'),
    { timeoutMs: 60_000, intervalMs: 200, description: `the spans of trace ${traceId} up to the completion` },
  );
}

function only(spans: ReceivedSpan[], service: string, name: string): ReceivedSpan {
  const found = spans.filter((s) => s.service === service && s.name === name);
  expect(found.map((s) => `${s.service} ${s.name}`), `exactly one ${service} span "${name}" in ${JSON.stringify(spans.map((s) => `${s.service}: ${s.name}`))}`).toEqual([`${service} ${name}`]);
  return found[0]!;
}

describe('one trace per task life', { timeout: 120_000 }, () => {
  it('follows a REST create from the caller through gateway, task-api, outbox, broker and processor', async () => {
    const caller = traceparent();
    const response = await fetch(`${gatewayUrl}/task`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: caller.header, tracestate: 'caller=1' },
      body: JSON.stringify({ content: 'traced' }),
    });
    expect(response.status).toBe(201);
    const taskId = ((await response.json()) as { id: string }).id;
    const spans = await traceWithCompletion(caller.traceId);

    const queue = `${namespace}.tasks`;
    const restServer = only(spans, 'taskproc-gateway', 'POST /task');
    const gatewayClient = only(spans, 'taskproc-gateway', 'taskproc.v1.TaskService/CreateTask');
    const rpcServer = only(spans, 'taskproc-task-api', 'taskproc.v1.TaskService/CreateTask');
    const insert = only(spans, 'taskproc-task-api', 'insert task and outbox entry');
    const publish = only(spans, 'taskproc-task-api', `publish ${queue}`);
    const processSpan = only(spans, 'taskproc-processor', `process ${queue}`);
    const claim = only(spans, 'taskproc-processor', 'claim task');
    const work = only(spans, 'taskproc-processor', 'work');
    const complete = only(spans, 'taskproc-processor', 'complete task');

    // Parented correctly, the caller's span at the root.
    expect(restServer.parentSpanId).toBe(caller.spanId);
    expect(gatewayClient.parentSpanId).toBe(restServer.spanId);
    expect(rpcServer.parentSpanId).toBe(gatewayClient.spanId);
    expect(insert.parentSpanId).toBe(rpcServer.spanId);
    expect(publish.parentSpanId).toBe(insert.spanId);
    expect(processSpan.parentSpanId).toBe(publish.spanId);
    for (const child of [claim, work, complete]) expect(child.parentSpanId).toBe(processSpan.spanId);

    expect([restServer.kind, gatewayClient.kind, rpcServer.kind, publish.kind, processSpan.kind]).toEqual([
      SPAN_KIND.SERVER,
      SPAN_KIND.CLIENT,
      SPAN_KIND.SERVER,
      SPAN_KIND.PRODUCER,
      SPAN_KIND.CONSUMER,
    ]);
    expect(rpcServer.attributes).toMatchObject({ 'rpc.system': 'grpc', 'rpc.service': 'taskproc.v1.TaskService', 'rpc.method': 'CreateTask', 'rpc.grpc.status_code': 0 });
    expect(publish.attributes).toMatchObject({ 'messaging.system': 'rabbitmq', 'messaging.destination.name': queue, 'taskproc.task.id': taskId });
    expect(processSpan.attributes).toMatchObject({ 'taskproc.task.id': taskId, 'taskproc.outcome': 'completed' });
    expect(complete.attributes).toMatchObject({ 'taskproc.task.id': taskId, 'taskproc.completed': true });

    // The official PostgreSQL instrumentation's statement spans sit under ours.
    const statementsUnder = (parent: ReceivedSpan) => spans.filter((s) => s.name.startsWith('pg.query') && s.parentSpanId === parent.spanId);
    expect(statementsUnder(insert).length).toBeGreaterThanOrEqual(1);
    expect(statementsUnder(complete).length).toBeGreaterThanOrEqual(1);
    // One trace for the task: no span about it lives in another trace.
    expect(receiver.spans.filter((s) => s.attributes['taskproc.task.id'] === taskId && s.traceId !== caller.traceId)).toEqual([]);

    // The processor's log lines about the task lead to the trace.
    const completedLine = await processor.waitForLog('task completed');
    expect(completedLine).toMatchObject({ taskId, trace_id: caller.traceId, span_id: processSpan.spanId });
  });

  it("continues a Connect caller's traceparent sent straight to task-api", async () => {
    const caller = traceparent();
    const response = await fetch(`${taskApiUrl}/taskproc.v1.TaskService/CreateTask`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: caller.header },
      body: JSON.stringify({ content: 'connect traced' }),
    });
    expect(response.status).toBe(200);
    const spans = await traceWithCompletion(caller.traceId);
    const rpcServer = only(spans, 'taskproc-task-api', 'taskproc.v1.TaskService/CreateTask');
    expect(rpcServer.parentSpanId).toBe(caller.spanId);
    expect(rpcServer.attributes['rpc.system']).toBe('connect_rpc');
    expect(spans.filter((s) => s.service === 'taskproc-gateway')).toEqual([]);
  });

  it("continues a gRPC caller's traceparent (metadata)", async () => {
    const caller = traceparent();
    const client = createClient(TaskService, createGrpcTransport({ baseUrl: taskApiUrl }));
    await client.createTask({ content: 'grpc traced' }, { headers: { traceparent: caller.header } });
    const spans = await traceWithCompletion(caller.traceId);
    const rpcServer = only(spans, 'taskproc-task-api', 'taskproc.v1.TaskService/CreateTask');
    expect(rpcServer.parentSpanId).toBe(caller.spanId);
    expect(rpcServer.attributes['rpc.system']).toBe('grpc');
  });

  it('ends the task\'s trace with the abort when it is canceled during its work; the cancel is a trace of its own', async () => {
    // On a loaded machine the work may end before the cancel lands (400:
    // already completed); then another task is tried.
    let caller = traceparent();
    let canceler = traceparent();
    for (let attempt = 1; ; attempt++) {
      caller = traceparent();
      const created = await fetch(`${gatewayUrl}/task`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', traceparent: caller.header },
        body: JSON.stringify({ content: 'canceled while traced' }),
      });
      const taskId = ((await created.json()) as { id: string }).id;
      await waitFor(
        async () => ((await (await fetch(`${gatewayUrl}/task/${taskId}`)).json()) as { status: string }).status,
        (status) => status !== 'pending',
        { timeoutMs: 30_000, intervalMs: 20, description: 'the task to be claimed' },
      );
      canceler = traceparent();
      const canceled = await fetch(`${gatewayUrl}/task/${taskId}/cancel`, { method: 'PATCH', headers: { traceparent: canceler.header } });
      if (canceled.status === 200) break;
      expect(canceled.status, 'a cancel refused for another reason than a completed task').toBe(400);
      expect(attempt, 'attempts to cancel a task during its work').toBeLessThan(5);
    }

    const spans = await waitFor(
      () => receiver.spans.filter((s) => s.traceId === caller.traceId),
      (found) => found.some((s) => s.name.startsWith('process ') && s.attributes['taskproc.outcome'] !== undefined),
      { timeoutMs: 60_000, intervalMs: 200, description: 'the process span of the canceled task' },
    );
    const processSpan = spans.find((s) => s.name.startsWith('process '))!;
    expect(processSpan.attributes['taskproc.outcome']).toBe('canceled');
    const work = only(spans, 'taskproc-processor', 'work');
    expect(work.parentSpanId).toBe(processSpan.spanId);
    expect(work.events).toContain('aborted');
    expect(work.status).toBe(2);
    expect(spans.filter((s) => s.name === 'complete task')).toEqual([]);

    const cancelTrace = await waitFor(
      () => receiver.spans.filter((s) => s.traceId === canceler.traceId),
      (found) => found.some((s) => s.service === 'taskproc-task-api'),
      { timeoutMs: 60_000, intervalMs: 200, description: 'the cancel request\'s spans' },
    );
    expect(only(cancelTrace, 'taskproc-gateway', 'PATCH /task/{task_id}/cancel').parentSpanId).toBe(canceler.spanId);
    expect(only(cancelTrace, 'taskproc-task-api', 'taskproc.v1.TaskService/CancelTask').attributes['rpc.grpc.status_code']).toBe(0);
  });

  it('starts a new trace for a caller without traceparent', async () => {
    const response = await fetch(`${gatewayUrl}/task`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'untraced caller' }),
    });
    const taskId = ((await response.json()) as { id: string }).id;
    const publish = await waitFor(
      () => receiver.spans.find((s) => s.name.startsWith('publish ') && s.attributes['taskproc.task.id'] === taskId),
      (span) => span !== undefined,
      { timeoutMs: 60_000, intervalMs: 200, description: 'the publish span of the task' },
    );
    const spans = await traceWithCompletion(publish!.traceId);
    const root = only(spans, 'taskproc-gateway', 'POST /task');
    expect(root.parentSpanId).toBe('');
  });
});
