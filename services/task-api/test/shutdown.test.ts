import { describe, expect, it } from 'vitest';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { TaskService } from '@taskproc/contract';
import amqp from 'amqplib';
import { assertTaskTopology, decodeTaskMessage, newTaskId } from '@taskproc/core';
import { startTaskApiHarness } from '../../../test/support/task-api-harness.js';
import { loadTestEnv } from '../../../test/support/test-env.js';
import { waitFor } from '../../../test/support/wait-for.js';

// Shutdown stops taking work: an HTTP/2 client that stays connected (as a
// gateway does) is sent GOAWAY at once, instead of being served until the
// grace period runs out and then cut off mid-request.

describe('task-api shutdown', () => {
  it('tells connected HTTP/2 clients to go away and does not wait out the grace period', async () => {
    const graceMs = 8_000;
    const harness = await startTaskApiHarness('shutdown', (env) => ({ ...env, TASK_API_SHUTDOWN_GRACE_MS: String(graceMs) }));
    try {
      const client = createClient(TaskService, createGrpcTransport({ baseUrl: harness.api.url }));
      await client.checkHealth({});

      const started = Date.now();
      await harness.api.close();
      expect(Date.now() - started).toBeLessThan(graceMs / 2);

      const error = await client.checkHealth({}).catch((e: unknown) => ConnectError.from(e));
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).code).toBe(Code.Unavailable);
    } finally {
      await harness.close();
    }
  });

  it('publishes the outbox entries that are due before it stops', async () => {
    // A poll far beyond the test: only the flush at shutdown can find an
    // entry that no wake-up announced (one another process committed).
    const harness = await startTaskApiHarness('shutdown_flush', (env) => ({ ...env, OUTBOX_POLL_INTERVAL_MS: '60000' }));
    const connection = await amqp.connect(loadTestEnv().AMQP_URL!);
    try {
      const channel = await connection.createChannel();
      await assertTaskTopology(channel, harness.topology);
      const takeIds = async () => {
        const ids: string[] = [];
        for (let m = await channel.get(harness.topology.taskQueue); m; m = await channel.get(harness.topology.taskQueue)) {
          ids.push((decodeTaskMessage(m.content) as { taskId: string }).taskId);
          channel.ack(m);
        }
        return ids;
      };
      // The relay is publishing once a created task's message has arrived.
      const client = createClient(TaskService, createGrpcTransport({ baseUrl: harness.api.url }));
      const { task } = await client.createTask({ content: 'wakes the relay' });
      const seen: string[] = [];
      await waitFor(async () => (seen.push(...(await takeIds())), seen), (ids) => ids.includes(task!.id), { description: "the created task's message" });

      const id = newTaskId();
      await harness.database.query(`insert into task (id, content, status, attempt, queued_at) values ($1, 'committed elsewhere', 'pending', 0, clock_timestamp())`, [id]);
      await harness.database.query(`insert into outbox (task_id) values ($1)`, [id]);
      await harness.api.close();

      expect(await takeIds()).toEqual([id]);
      expect(await harness.database.query('select task_id from outbox')).toEqual([]);
    } finally {
      await connection.close();
      await harness.close();
    }
  });
});
