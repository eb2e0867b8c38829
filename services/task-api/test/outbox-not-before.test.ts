import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import pg from 'pg';
import { createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { TaskService } from '@taskproc/contract';
import { assertTaskTopology, createLogger, decodeTaskMessage } from '@taskproc/core';
import { startTaskApi, type RunningTaskApi } from '@taskproc/task-api';
import { startTaskApiHarness, type TaskApiHarness } from '../../../test/support/task-api-harness.js';
import { loadTestEnv } from '../../../test/support/test-env.js';
import { waitFor } from '../../../test/support/wait-for.js';

// Outbox entries with a not_before in the future (a failed attempt's
// backoff, a scheduled task) wait in the table and are published when due.
// The safety-net poll is set to a minute here, so only the relay's due-time
// timer can publish them within the tests' deadlines.

let harness: TaskApiHarness;
let client: Client<typeof TaskService>;
let connection: ChannelModel;
let channel: Channel;
let restarted: RunningTaskApi | null = null;

beforeAll(async () => {
  harness = await startTaskApiHarness('outbox_not_before', (e) => ({ ...e, OUTBOX_POLL_INTERVAL_MS: '60000' }));
  client = createClient(TaskService, createGrpcTransport({ baseUrl: harness.api.url }));
  connection = await amqp.connect(loadTestEnv().AMQP_URL!);
  channel = await connection.createChannel();
  await assertTaskTopology(channel, harness.topology);
});

afterAll(async () => {
  await connection?.close();
  await restarted?.close();
  await harness?.close();
});

/** Takes every message now in the task queue; returns their task ids. */
async function takeMessages(): Promise<string[]> {
  const ids: string[] = [];
  for (;;) {
    const message = await channel.get(harness.topology.taskQueue, { noAck: true });
    if (!message) return ids;
    ids.push((decodeTaskMessage(message.content) as { taskId: string }).taskId);
  }
}

/** A task whose create message has been taken off the queue already. */
async function quietTask(): Promise<string> {
  const { task } = await client.createTask({ content: 'waits' });
  await waitFor(takeMessages, (ids) => ids.includes(task!.id), { description: 'the create message' });
  return task!.id;
}

/**
 * Queues the task again from another connection, as a processor does after a
 * failed attempt: an outbox entry due in `delayMs`, by the database's clock.
 */
async function queueLater(taskId: string, delayMs: number): Promise<void> {
  await harness.database.query(`insert into outbox (task_id, not_before) values ($1, clock_timestamp() + $2 * interval '1 millisecond')`, [
    taskId,
    delayMs,
  ]);
}

/** Milliseconds until the task's waiting entry is due (negative once it is), or null when it has none left. */
async function dueInMs(taskId: string): Promise<number | null> {
  const [row] = await harness.database.query<{ ms: number }>(
    `select extract(epoch from not_before - clock_timestamp())::float8 * 1000 as ms from outbox where task_id = $1`,
    [taskId],
  );
  return row ? Number(row.ms) : null;
}

describe('outbox entries with a not-before time', () => {
  it('are not published before their time, and published when it comes without waiting for the poll', async () => {
    const taskId = await quietTask();
    await queueLater(taskId, 1_500);

    // Shortly before the entry is due, it is still in the outbox and nothing was published.
    await waitFor(() => dueInMs(taskId), (ms) => ms !== null && ms < 400, { description: 'the due time to come near' });
    expect(await takeMessages()).toEqual([]);
    expect(await dueInMs(taskId)).not.toBeNull();

    const seen = await waitFor(takeMessages, (ids) => ids.length > 0, { timeoutMs: 15_000, description: 'the waiting entry to be published' });
    expect(seen).toEqual([taskId]);
    // The relay deletes the entry once the broker has confirmed the message (just after it arrives here).
    await waitFor(() => dueInMs(taskId), (ms) => ms === null, { description: 'the entry to be deleted' });
  });

  it('re-arm the timer when an entry committed later is due earlier', async () => {
    const late = await quietTask();
    const early = await quietTask();
    await queueLater(late, 6_000);
    await queueLater(early, 800);

    const seen = await waitFor(takeMessages, (ids) => ids.length > 0, { timeoutMs: 15_000, description: 'the earlier entry' });
    expect(seen).toEqual([early]);
    // The later one is still waiting (and still in the future).
    expect(await dueInMs(late)).toBeGreaterThan(0);
    const rest = await waitFor(takeMessages, (ids) => ids.length > 0, { timeoutMs: 20_000, description: 'the later entry' });
    expect(rest).toEqual([late]);
  });

  it('are announced to the relays by NOTIFY on commit, while an entry due at once (every create) announces nothing', async () => {
    const listener = new pg.Client({ connectionString: harness.database.url });
    await listener.connect();
    const notices: string[] = [];
    listener.on('notification', (n) => notices.push(String(n.payload)));
    try {
      await listener.query('LISTEN taskproc_outbox_due');
      const created = await quietTask();
      await queueLater(created, 1_500);
      // Notices come in commit order: the create's would come first.
      await waitFor(() => notices.length, (n) => n > 0, { description: 'the notice of the waiting entry' });
      expect(notices).toHaveLength(1);
      expect(Number(notices[0])).toBeGreaterThan(1_000);
      expect(Number(notices[0])).toBeLessThanOrEqual(1_500);
      // Leave nothing waiting for the next test.
      await waitFor(takeMessages, (ids) => ids.includes(created), { timeoutMs: 15_000, description: 'the waiting entry published' });
    } finally {
      await listener.end();
    }
  });

  it('survive a restart of task-api: the new relay finds the waiting entry and publishes it on time', async () => {
    const taskId = await quietTask();
    await queueLater(taskId, 2_000);
    await harness.api.close();
    restarted = await startTaskApi(harness.config, createLogger('task-api', harness.config.logLevel));

    expect(await takeMessages()).toEqual([]);
    const seen = await waitFor(takeMessages, (ids) => ids.length > 0, { timeoutMs: 15_000, description: 'the entry after the restart' });
    expect(seen).toEqual([taskId]);
  });
});
