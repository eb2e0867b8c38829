import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import amqp, { type ChannelModel } from 'amqplib';
import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { TaskService, TaskStatus } from '@taskproc/contract';
import { DEFAULT_TENANT, createLogger, openOrm, type TaskTopology } from '@taskproc/core';
import { startTaskApiHarness, type TaskApiHarness } from '../../../test/support/task-api-harness.js';
import { startTcpProxy, type TcpProxy } from '../../../test/support/tcp-proxy.js';
import { loadTestEnv } from '../../../test/support/test-env.js';
import { waitFor } from '../../../test/support/wait-for.js';
import { createTaskStats } from '../src/task-stats.js';

// GetTaskStats on a real PostgreSQL and RabbitMQ: counts by status, the
// outbox, and the broker's view (consumers on the task queue, messages in the
// dead-letter queue); broker trouble answers what the database knows.

let harness: TaskApiHarness;
let brokerProxy: TcpProxy;
let client: Client<typeof TaskService>;
let broker: ChannelModel;

beforeAll(async () => {
  brokerProxy = await startTcpProxy(loadTestEnv().AMQP_URL!, 5672);
  harness = await startTaskApiHarness('task_stats', (e) => ({ ...e, AMQP_URL: brokerProxy.via(e.AMQP_URL!) }));
  client = createClient(TaskService, createGrpcTransport({ baseUrl: harness.api.url }));
  broker = await amqp.connect(loadTestEnv().AMQP_URL!);
});

afterAll(async () => {
  brokerProxy?.unblock();
  await broker?.close().catch(() => {});
  await harness?.close();
  await brokerProxy?.close();
});

function countsOf(answer: Awaited<ReturnType<typeof client.getTaskStats>>): Record<string, number> {
  return Object.fromEntries(answer.counts.map((c) => [TaskStatus[c.status], Number(c.count)]));
}

async function setTaskStatus(id: string, path: string[]): Promise<void> {
  // Moves a task along allowed arrows as a processor would (the trigger checks each).
  for (const status of path) {
    await harness.database.query(`update task set status = $2, updated_at = clock_timestamp() where id = $1`, [id, status]);
  }
}

describe('GetTaskStats', () => {
  it('counts every status (zeros included), and sees consumers and dead letters on the broker', async () => {
    const empty = await client.getTaskStats({});
    expect(countsOf(empty)).toEqual({ PENDING: 0, PROCESSING: 0, COMPLETED: 0, CANCELED: 0, FAILED: 0 });
    expect(empty.brokerError).toBe('');
    expect(empty.processors).toBe(0);
    expect(empty.deadLettered).toBe(0n);

    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) ids.push((await client.createTask({ content: `stats ${i}` })).task!.id);
    await client.cancelTask({ taskId: ids[0]! });
    await setTaskStatus(ids[1]!, ['processing', 'completed']);
    await setTaskStatus(ids[2]!, ['processing', 'failed']);
    await setTaskStatus(ids[3]!, ['processing']);

    // A consumer on the task queue (a processor's channel) and a message in the dead-letter queue.
    const topology: TaskTopology = harness.topology;
    const channel = await broker.createChannel();
    await waitFor(async () => (await channel.checkQueue(topology.taskQueue)).queue, Boolean, { description: 'the relay declared the task queue' });
    await channel.consume(topology.taskQueue, (message) => message && channel.ack(message));
    channel.sendToQueue(topology.deadLetterQueue, Buffer.from('poison'), { persistent: true });

    const stats = await waitFor(
      () => client.getTaskStats({}),
      (s) => s.processors === 1 && s.deadLettered === 1n && s.outboxBacklog === 0n,
      { description: 'one processor, one dead letter, the outbox drained', timeoutMs: 20_000 },
    );
    expect(countsOf(stats)).toEqual({ PENDING: 1, PROCESSING: 1, COMPLETED: 1, CANCELED: 1, FAILED: 1 });
    expect(stats.counts.map((c) => c.status)).toEqual([
      TaskStatus.PENDING,
      TaskStatus.PROCESSING,
      TaskStatus.COMPLETED,
      TaskStatus.CANCELED,
      TaskStatus.FAILED,
    ]);
    expect(stats.oldestDueOutboxAge).toBeUndefined();
    expect(stats.brokerError).toBe('');
    await channel.close();
  });

  it('reports the outbox backlog and the age of its oldest due entry', async () => {
    const { task } = await client.createTask({ content: 'backlog' });
    // Entries the relay cannot publish yet: one due a minute ago, one due tomorrow.
    await harness.database.query(
      `insert into outbox (task_id, not_before) values ($1, clock_timestamp() - interval '60 seconds'), ($1, clock_timestamp() + interval '1 day')`,
      [task!.id],
    );
    brokerProxy.block(); // the relay cannot publish: both entries stay
    try {
      const stats = await waitFor(
        () => client.getTaskStats({}),
        (s) => s.outboxBacklog >= 2n && s.oldestDueOutboxAge !== undefined,
        { description: 'the two entries in the backlog', timeoutMs: 20_000 },
      );
      const age = Number(stats.oldestDueOutboxAge!.seconds);
      expect(age).toBeGreaterThanOrEqual(60);
      expect(age).toBeLessThan(600);
      // The broker is down for task-api: the answer says so and keeps the database's figures.
      expect(stats.brokerError).toMatch(/^the broker (is unavailable|did not answer within \d+ s)$/);
      expect(stats.processors).toBe(0);
      expect(stats.deadLettered).toBe(0n);
      expect(countsOf(stats).PENDING).toBeGreaterThanOrEqual(1);
    } finally {
      brokerProxy.unblock();
    }
    await waitFor(
      () => client.getTaskStats({}),
      (s) => s.brokerError === '',
      { description: 'the broker answering again', timeoutMs: 20_000 },
    );
  });
});

describe('with the database unreachable', () => {
  it('answers UNAVAILABLE (REST 503), naming no internals', async () => {
    const databaseProxy = await startTcpProxy(loadTestEnv().DATABASE_URL!, 5432);
    const own = await startTaskApiHarness('task_stats_db', (e) => ({ ...e, DATABASE_URL: databaseProxy.via(e.DATABASE_URL!) }));
    try {
      const stats = createClient(TaskService, createGrpcTransport({ baseUrl: own.api.url }));
      expect((await stats.getTaskStats({})).counts).toHaveLength(5);
      databaseProxy.block();
      const error = await waitFor(
        () => stats.getTaskStats({}).then(() => undefined, (e: unknown) => ConnectError.from(e)),
        (e) => e?.code === Code.Unavailable,
        { description: 'UNAVAILABLE while the database is blocked', timeoutMs: 20_000 },
      );
      expect(error!.rawMessage).not.toMatch(/SELECT|postgres|ECONN|knex/i);
    } finally {
      databaseProxy.unblock();
      await own.close();
      await databaseProxy.close();
    }
  });
});

describe('a broker that accepts connections but never answers', () => {
  let silent: Server;
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  it('answers within its bound, with the database figures and why the broker ones are missing', async () => {
    const orm = await openOrm({ databaseUrl: harness.database.url, poolSize: 1, logger: createLogger('test', 'silent') });
    const port = (silent.address() as AddressInfo).port;
    const stats = createTaskStats(orm, { amqpUrl: `amqp://guest:guest@127.0.0.1:${port}`, topology: harness.topology }, createLogger('test', 'silent'));
    try {
      // It returns at all (a hang would hit the test timeout), and says why.
      const answer = await stats.read(DEFAULT_TENANT);
      expect(answer.brokerError).toMatch(/^the broker (did not answer within 2 s|is unavailable)$/);
      expect(answer.counts.pending).toBeGreaterThanOrEqual(0);
    } finally {
      await stats.close();
      await orm.close();
    }
  });
});
