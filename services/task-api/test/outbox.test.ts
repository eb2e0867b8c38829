import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { TaskService, TaskStatus } from '@taskproc/contract';
import { assertTaskTopology, decodeTaskMessage } from '@taskproc/core';
import { startTaskApiHarness, type TaskApiHarness } from '../../../test/support/task-api-harness.js';
import { startTcpProxy, type TcpProxy } from '../../../test/support/tcp-proxy.js';
import { loadTestEnv } from '../../../test/support/test-env.js';
import { waitFor } from '../../../test/support/wait-for.js';

// The transactional outbox: every created task becomes exactly one durable
// broker message, also when the broker was unreachable at create time.

let harness: TaskApiHarness;
let brokerProxy: TcpProxy;
let client: Client<typeof TaskService>;
let connection: ChannelModel;
let channel: Channel;

beforeAll(async () => {
  const env = loadTestEnv();
  brokerProxy = await startTcpProxy(env.AMQP_URL!, 5672);
  harness = await startTaskApiHarness('outbox', (e) => ({ ...e, AMQP_URL: brokerProxy.via(e.AMQP_URL!) }));
  client = createClient(TaskService, createGrpcTransport({ baseUrl: harness.api.url }));
  // The test reads the queue directly, not through the proxy.
  connection = await amqp.connect(env.AMQP_URL!);
  channel = await connection.createChannel();
  // Declared here too (idempotent), so the test can consume before the relay has connected.
  await assertTaskTopology(channel, harness.topology);
});

afterAll(async () => {
  await connection?.close();
  await harness?.close();
  await brokerProxy?.close();
});

/** Takes every message currently in the task queue, returning their task ids. */
async function drainQueue(): Promise<string[]> {
  const ids: string[] = [];
  for (;;) {
    const message = await channel.get(harness.topology.taskQueue, { noAck: false });
    if (!message) return ids;
    const decoded = decodeTaskMessage(message.content);
    expect(decoded).toHaveProperty('taskId');
    expect(message.properties.deliveryMode).toBe(2);
    expect(message.properties.messageId).toBe((decoded as { taskId: string }).taskId);
    ids.push((decoded as { taskId: string }).taskId);
    channel.ack(message);
  }
}

/** Whether the task queue exists (on a channel of its own: the broker closes the channel that asks for a missing queue). */
async function taskQueueExists(): Promise<boolean> {
  const probe = await connection.createChannel();
  probe.on('error', () => {});
  try {
    await probe.checkQueue(harness.topology.taskQueue);
    await probe.close();
    return true;
  } catch {
    return false;
  }
}

async function outboxSize(): Promise<number> {
  const [row] = await harness.database.query<{ n: string }>('select count(*) as n from outbox');
  return Number(row!.n);
}

describe('outbox relay', () => {
  it('publishes exactly one persistent message per created task', async () => {
    // A consumer collects every message as it arrives, and keeps collecting
    // after the expected count: a late duplicate must fail the test too.
    const seen: string[] = [];
    let lastArrival = Date.now();
    const { consumerTag } = await channel.consume(harness.topology.taskQueue, (message) => {
      if (!message) return;
      const decoded = decodeTaskMessage(message.content);
      expect(decoded).toHaveProperty('taskId');
      expect(message.properties.deliveryMode).toBe(2);
      expect(message.properties.messageId).toBe((decoded as { taskId: string }).taskId);
      seen.push((decoded as { taskId: string }).taskId);
      lastArrival = Date.now();
      channel.ack(message);
    });
    try {
      const created = await Promise.all(
        Array.from({ length: 40 }, (_, i) => client.createTask({ content: `task ${i}` }).then((r) => r.task!.id)),
      );
      await waitFor(outboxSize, (n) => n === 0, { description: 'outbox to empty' });
      await waitFor(() => seen.length, (n) => n >= created.length, { description: 'one message per task' });
      // No further message within QUIET_MS: several relay poll intervals, so
      // a second publish of any entry (a batch published but not deleted)
      // would have arrived.
      const QUIET_MS = harness.config.outboxPollIntervalMs * 5;
      await waitFor(() => Date.now() - lastArrival, (quietFor) => quietFor >= QUIET_MS, {
        timeoutMs: QUIET_MS * 10,
        description: `no message for ${QUIET_MS} ms after the last one`,
      });
      expect([...seen].sort()).toEqual([...created].sort());
    } finally {
      await channel.cancel(consumerTag);
    }
  });

  it('accepts tasks while the broker is unreachable and publishes them once it is back', async () => {
    brokerProxy.block();
    const { task } = await client.createTask({ content: 'while the broker is down' });
    expect(task!.status).toBe(TaskStatus.PENDING);
    expect(await outboxSize()).toBe(1);
    expect(await drainQueue()).toEqual([]);

    brokerProxy.unblock();
    await waitFor(outboxSize, (n) => n === 0, { timeoutMs: 20_000, description: 'relay to publish after reconnecting' });
    const seen = await waitFor(drainQueue, (ids) => ids.length > 0, { description: 'the message to arrive' });
    expect(seen).toEqual([task!.id]);
  });

  it('keeps the entry of a task whose queue was deleted until the queue exists again, and declares it again', async () => {
    await channel.deleteQueue(harness.topology.taskQueue);
    const { task } = await client.createTask({ content: 'while the task queue is missing' });
    // Unroutable publishes come back (mandatory) and roll the batch back; the
    // relay reconnects, declares the queue and publishes into it.
    const seen = await waitFor(
      async () => ((await taskQueueExists()) ? drainQueue() : []),
      (ids) => ids.length > 0,
      { timeoutMs: 20_000, description: 'the task queue declared again, holding the message' },
    );
    expect(seen).toEqual([task!.id]);
    expect(await outboxSize()).toBe(0);
  });
});
