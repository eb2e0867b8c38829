import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { TaskService } from '@taskproc/contract';
import { assertTaskTopology, decodeTaskMessage } from '@taskproc/core';
import { startTaskApiHarness, type TaskApiHarness } from '../../../test/support/task-api-harness.js';
import { waitFor } from '../../../test/support/wait-for.js';

// A task whose message the system lost (here: taken off the queue and
// dropped, as a dead-lettering or a purge would) is queued again once it has
// been unchanged for the stale period, so it still reaches a final state.

let harness: TaskApiHarness;
let connection: ChannelModel;
let channel: Channel;

beforeAll(async () => {
  harness = await startTaskApiHarness('stale_sweeper', (env) => ({ ...env, TASK_STALE_AFTER_MS: '1000' }));
  connection = await amqp.connect(harness.config.amqpUrl);
  channel = await connection.createChannel();
  // The relay declares the queue when it connects; do not race it.
  await assertTaskTopology(channel, harness.topology);
});

afterAll(async () => {
  await connection?.close();
  await harness?.close();
});

async function takeMessage(): Promise<string | null> {
  const message = await channel.get(harness.topology.taskQueue, { noAck: true });
  if (!message) return null;
  const decoded = decodeTaskMessage(message.content);
  return 'taskId' in decoded ? decoded.taskId : null;
}

describe('stale task sweeper', () => {
  it('queues a task again after its message was lost', async () => {
    const client = createClient(TaskService, createGrpcTransport({ baseUrl: harness.api.url }));
    const { task } = await client.createTask({ content: 'message will be lost' });
    const first = await waitFor(takeMessage, (id) => id !== null, { description: 'the first message' });
    expect(first).toBe(task!.id);

    const again = await waitFor(takeMessage, (id) => id !== null, { timeoutMs: 10_000, description: 'the task queued again' });
    expect(again).toBe(task!.id);
    expect((await client.getTask({ taskId: task!.id })).task).toEqual(task);
  });
});
