import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import amqp, { type ChannelModel } from 'amqplib';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { TaskService, TaskStatus, health } from '@taskproc/contract';
import { assertTaskTopology, taskTopology } from '@taskproc/core';
import { startTaskApiHarness, type TaskApiHarness } from '../../../test/support/task-api-harness.js';
import { testNamespace } from '../../../test/support/test-broker.js';
import { loadTestEnv } from '../../../test/support/test-env.js';
import { captureLogs } from '../../../test/support/log-capture.js';
import { waitFor } from '../../../test/support/wait-for.js';

// Readiness (grpc.health.v1) covers the broker side: while the outbox relay
// cannot publish — here the task queue exists with another delivery limit,
// so declaring it fails with PRECONDITION_FAILED — task-api says NOT_SERVING
// and logs why, while creates still succeed into the durable outbox and
// REST /health (the database) stays ok.

const { SERVING, NOT_SERVING } = health.HealthCheckResponse_ServingStatus;
const namespace = testNamespace('broker_readiness');
const { logger, lines } = captureLogs('info');

let harness: TaskApiHarness;
let broker: ChannelModel;

beforeAll(async () => {
  const env = loadTestEnv();
  broker = await amqp.connect(env.AMQP_URL!);
  // Declared first, by "another deployment", with a different delivery limit.
  const channel = await broker.createChannel();
  await assertTaskTopology(channel, taskTopology(namespace, Number(env.QUEUE_DELIVERY_LIMIT) + 4));
  await channel.close();
  harness = await startTaskApiHarness('broker_readiness', (e) => ({ ...e, QUEUE_NAMESPACE: namespace }), logger);
});

afterAll(async () => {
  await harness?.close();
  await broker?.close();
});

describe('readiness with a topology mismatch', () => {
  it('is NOT_SERVING with the reason logged while creates still succeed, and SERVING once the relay can publish', async () => {
    const transport = createGrpcTransport({ baseUrl: harness.api.url });
    const healthClient = createClient(health.Health, transport);
    const tasks = createClient(TaskService, transport);
    const check = async () => (await healthClient.check({ service: '' })).status;

    const refused = await waitFor(
      () => lines.filter((line) => line.msg === 'outbox relay cannot publish; readiness is NOT_SERVING until it can'),
      (found) => found.length > 0,
      { timeoutMs: 20_000, description: 'the relay to log why it cannot publish' },
    );
    expect(refused[0]).toMatchObject({ level: 50 });
    expect(String(refused[0]!.reason)).toMatch(/PRECONDITION_FAILED[\s\S]*QUEUE_DELIVERY_LIMIT/);
    expect(await check()).toBe(NOT_SERVING);
    expect(await healthClient.check({ service: TaskService.typeName })).toMatchObject({ status: NOT_SERVING });
    // The channel error itself is logged too, not dropped.
    expect(lines.find((line) => line.msg === 'broker channel error')).toMatchObject({ level: 50 });
    expect(lines.some((line) => line.msg === 'not ready: NOT_SERVING' && String(line.reason).includes('outbox relay cannot publish'))).toBe(true);

    // The outbox is durable: a create is still a 201, and /health (the database) is ok.
    const { task } = await tasks.createTask({ content: 'while the relay cannot publish' });
    expect(task!.status).toBe(TaskStatus.PENDING);
    expect(await tasks.checkHealth({})).toMatchObject({ status: 'ok' });
    const [waiting] = await harness.database.query<{ n: number }>('select count(*)::int as n from outbox');
    expect(waiting!.n).toBe(1);

    // The operator removes the mismatched queue: the relay declares its own and publishes.
    const channel = await broker.createChannel();
    await channel.deleteQueue(harness.topology.taskQueue);
    await channel.close();
    await waitFor(check, (status) => status === SERVING, { timeoutMs: 20_000, description: 'SERVING once the relay publishes' });
    await waitFor(
      async () => (await harness.database.query<{ n: number }>('select count(*)::int as n from outbox'))[0]!.n,
      (n) => n === 0,
      { timeoutMs: 20_000, description: 'the outbox drained' },
    );
  });
});
