import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { TaskService, TaskStatus, health } from '@taskproc/contract';
import { assertTaskTopology, decodeTaskMessage } from '@taskproc/core';
import { startTaskApiHarness, type TaskApiHarness } from '../../../test/support/task-api-harness.js';
import { startTcpProxy, type TcpProxy } from '../../../test/support/tcp-proxy.js';
import { loadTestEnv } from '../../../test/support/test-env.js';
import { waitFor } from '../../../test/support/wait-for.js';

// RabbitMQ lost without a reset: the relay's confirms never come, its close
// handshake would never be answered and new connections hang in the
// handshake. Every one of those waits is bounded, so the relay reports
// NOT_SERVING, keeps the entries, and publishes them once the broker is back;
// creates answer 201 throughout.

const { SERVING, NOT_SERVING } = health.HealthCheckResponse_ServingStatus;

let harness: TaskApiHarness;
let brokerProxy: TcpProxy;
let connection: ChannelModel;
let channel: Channel;

beforeAll(async () => {
  const env = loadTestEnv();
  brokerProxy = await startTcpProxy(env.AMQP_URL!, 5672);
  harness = await startTaskApiHarness('broker_blackhole', (e) => ({
    ...e,
    AMQP_URL: brokerProxy.via(e.AMQP_URL!),
    AMQP_CONNECT_TIMEOUT_MS: '1000',
    AMQP_CONFIRM_TIMEOUT_MS: '1000',
  }));
  connection = await amqp.connect(env.AMQP_URL!);
  channel = await connection.createChannel();
  await assertTaskTopology(channel, harness.topology);
});

afterAll(async () => {
  brokerProxy?.unstall();
  await connection?.close();
  await harness?.close();
  await brokerProxy?.close();
});

async function outboxSize(): Promise<number> {
  return (await harness.database.query<{ n: number }>('select count(*)::int as n from outbox'))[0]!.n;
}

describe('a broker that stops answering', () => {
  it('keeps creates answering 201, reports NOT_SERVING, and publishes everything once it is back', { timeout: 90_000 }, async () => {
    const transport = createGrpcTransport({ baseUrl: harness.api.url });
    const tasks = createClient(TaskService, transport);
    const healthClient = createClient(health.Health, transport);
    const check = async () => (await healthClient.check({ service: '' })).status;
    await waitFor(check, (status) => status === SERVING, { timeoutMs: 20_000, description: 'SERVING before the blackhole' });

    brokerProxy.stall();
    const created: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { task } = await tasks.createTask({ content: `during the blackhole ${i}` });
      expect(task!.status).toBe(TaskStatus.PENDING);
      created.push(task!.id);
    }
    await waitFor(check, (status) => status === NOT_SERVING, { timeoutMs: 20_000, description: 'NOT_SERVING while the broker is silent' });
    expect(await outboxSize()).toBe(5);

    brokerProxy.unstall();
    await waitFor(check, (status) => status === SERVING, { timeoutMs: 30_000, description: 'SERVING once the broker is back' });
    await waitFor(outboxSize, (n) => n === 0, { timeoutMs: 20_000, description: 'the outbox drained' });
    const seen = new Set<string>();
    await waitFor(
      async () => {
        for (let message = await channel.get(harness.topology.taskQueue); message; message = await channel.get(harness.topology.taskQueue)) {
          seen.add((decodeTaskMessage(message.content) as { taskId: string }).taskId);
          channel.ack(message);
        }
        return created.every((id) => seen.has(id));
      },
      Boolean,
      { timeoutMs: 20_000, description: 'every task published' },
    );
  });
});
