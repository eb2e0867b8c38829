import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { TaskService, TaskStatus } from '@taskproc/contract';
import { assertTaskTopology, decodeTaskMessage } from '@taskproc/core';
import { startTaskApiHarness, type TaskApiHarness } from '../../../test/support/task-api-harness.js';
import { loadTestEnv } from '../../../test/support/test-env.js';
import { waitFor } from '../../../test/support/wait-for.js';

// RetryTask: failed -> pending, attempts reset, queued through the outbox in
// the same statement; anything but a failed task is FAILED_PRECONDITION.

let harness: TaskApiHarness;
let client: Client<typeof TaskService>;
let connection: ChannelModel;
let channel: Channel;

beforeAll(async () => {
  harness = await startTaskApiHarness('retry_task');
  client = createClient(TaskService, createGrpcTransport({ baseUrl: harness.api.url }));
  connection = await amqp.connect(loadTestEnv().AMQP_URL!);
  channel = await connection.createChannel();
  await assertTaskTopology(channel, harness.topology);
});

afterAll(async () => {
  await connection?.close();
  await harness?.close();
});

async function takeMessages(): Promise<string[]> {
  const ids: string[] = [];
  for (;;) {
    const message = await channel.get(harness.topology.taskQueue, { noAck: true });
    if (!message) return ids;
    ids.push((decodeTaskMessage(message.content) as { taskId: string }).taskId);
  }
}

/** A task brought to `status` the way processors do it (through the trigger's arrows), its messages taken. */
async function taskIn(status: 'pending' | 'processing' | 'completed' | 'canceled' | 'failed'): Promise<string> {
  const { task } = await client.createTask({ content: `to be ${status}` });
  const id = task!.id;
  await waitFor(takeMessages, (ids) => ids.includes(id), { description: 'the create message' });
  if (status === 'pending') return id;
  if (status === 'canceled') {
    await client.cancelTask({ taskId: id });
    return id;
  }
  await harness.database.query(`update task set status = 'processing', attempt = 1, updated_at = clock_timestamp() where id = $1`, [id]);
  if (status === 'completed') await harness.database.query(`update task set status = 'completed' where id = $1`, [id]);
  if (status === 'failed') {
    await harness.database.query(`update task set status = 'pending', error = 'first boom', failed_attempts = 1 where id = $1`, [id]);
    await harness.database.query(`update task set status = 'processing', attempt = 2 where id = $1`, [id]);
    await harness.database.query(`update task set status = 'failed', error = 'boom', failed_attempts = 2 where id = $1`, [id]);
  }
  return id;
}

async function codeOf(call: Promise<unknown>): Promise<{ code: Code | 'OK'; message: string }> {
  try {
    await call;
    return { code: 'OK', message: '' };
  } catch (error) {
    const e = ConnectError.from(error);
    return { code: e.code, message: e.rawMessage };
  }
}

describe('RetryTask', () => {
  it('brings a failed task back to pending with its attempts reset, and queues it again', async () => {
    const id = await taskIn('failed');
    const failed = (await client.getTask({ taskId: id })).task!;
    expect(failed.status).toBe(TaskStatus.FAILED);
    expect(failed.error).toBe('boom');

    const { task } = await client.retryTask({ taskId: id });
    expect(task!.id).toBe(id);
    expect(task!.status).toBe(TaskStatus.PENDING);
    expect(task!.error).toBeUndefined(); // only a failed task carries its error
    expect(task!.updatedAt).toBeDefined();

    const [row] = await harness.database.query(`select status, attempt, failed_attempts, error from task where id = $1`, [id]);
    expect(row).toEqual({ status: 'pending', attempt: 0, failed_attempts: 0, error: null });
    const transitions = await harness.database.query(`select from_status, to_status, attempt from task_transition where task_id = $1 order by id desc limit 1`, [id]);
    expect(transitions).toEqual([{ from_status: 'failed', to_status: 'pending', attempt: 0 }]);
    expect(await waitFor(takeMessages, (ids) => ids.length > 0, { description: 'the retry queued' })).toEqual([id]);
  });

  it('refuses any task that is not failed with FAILED_PRECONDITION naming its status, changing nothing', async () => {
    for (const status of ['pending', 'processing', 'completed', 'canceled'] as const) {
      const id = await taskIn(status);
      const outcome = await codeOf(client.retryTask({ taskId: id }));
      expect(outcome.code).toBe(Code.FailedPrecondition);
      expect(outcome.message).toContain(`is ${status}, not failed`);
      const [row] = await harness.database.query<{ status: string }>(`select status from task where id = $1`, [id]);
      expect(row!.status).toBe(status);
    }
    expect(await takeMessages()).toEqual([]);
  });

  it('answers NOT_FOUND for an unknown task and INVALID_ARGUMENT for a malformed id', async () => {
    expect((await codeOf(client.retryTask({ taskId: '0193f1f2-7c1e-7a55-9a0e-3f2b1c4d5e6f' }))).code).toBe(Code.NotFound);
    const malformed = await codeOf(client.retryTask({ taskId: 'not-a-uuid' }));
    expect(malformed.code).toBe(Code.InvalidArgument);
    expect(malformed.message).toContain('task_id');
  });

  it('accepts an upper-case id', async () => {
    const id = await taskIn('failed');
    const { task } = await client.retryTask({ taskId: id.toUpperCase() });
    expect(task!.id).toBe(id);
    expect(task!.status).toBe(TaskStatus.PENDING);
    await waitFor(takeMessages, (ids) => ids.includes(id), { description: 'the retry queued' });
  });
});
