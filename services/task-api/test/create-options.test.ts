import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import amqp from 'amqplib';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { TaskService, TaskStatus } from '@taskproc/contract';
import { createTaskClient } from '@taskproc/client';
import { createLogger } from '@taskproc/core';
import { startGateway, type RunningGateway } from '@taskproc/gateway';
import { startTaskApiHarness, type TaskApiHarness } from '../../../test/support/task-api-harness.js';
import { startTcpProxy, type TcpProxy } from '../../../test/support/tcp-proxy.js';
import { loadTestEnv } from '../../../test/support/test-env.js';
import { waitFor } from '../../../test/support/wait-for.js';

// Create options against a real task-api, PostgreSQL and RabbitMQ, over gRPC
// and over REST through the embedded gateway: idempotency keys (the
// database decides which create owns a key), batch create (all or nothing)
// and the options' bad input. Scheduled tasks are run end to end in
// test/scheduled-tasks.test.ts.

// Short, so a test sees a key expire; the cleanup runs often for the same reason.
const KEY_LIFETIME_MS = 3_000;

let harness: TaskApiHarness;
let brokerProxy: TcpProxy;
let gateway: RunningGateway;
let grpc: Client<typeof TaskService>;

beforeAll(async () => {
  const env = loadTestEnv();
  brokerProxy = await startTcpProxy(env.AMQP_URL!, 5672);
  harness = await startTaskApiHarness('create_options', (e) => ({
    ...e,
    AMQP_URL: brokerProxy.via(e.AMQP_URL!),
    IDEMPOTENCY_KEY_LIFETIME_MS: String(KEY_LIFETIME_MS),
    IDEMPOTENCY_CLEANUP_INTERVAL_MS: '500',
  }));
  gateway = await startGateway(
    { host: '127.0.0.1', port: 0, upstreamUrl: harness.api.url, logLevel: 'silent' },
    { logger: createLogger('gateway', 'silent') },
  );
  grpc = createClient(TaskService, createGrpcTransport({ baseUrl: harness.api.url }));
});

afterAll(async () => {
  await gateway?.close();
  await harness?.close();
  await brokerProxy?.close();
});

async function rest(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const response = await fetch(`${gateway.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
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

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const [row] = await harness.database.query<{ n: string }>(sql, params);
  return Number(row!.n);
}

describe('idempotency keys', () => {
  it('creates one task for one request_id sent 50 times at once over gRPC and REST', async () => {
    const key = 'order-42.create:v1';
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        i % 2 === 0
          ? grpc.createTask({ content: 'charge order 42', requestId: key }).then((r) => r.task!.id)
          : rest('/task', { content: 'charge order 42' }, { 'idempotency-key': key }).then((r) => {
              expect(r.status).toBe(201);
              return r.json.id as string;
            }),
      ),
    );
    expect(new Set(answers).size).toBe(1);
    expect(await count(`select count(*) as n from task where content = 'charge order 42'`)).toBe(1);
    expect(await count(`select count(*) as n from task_transition t join task k on k.id = t.task_id where k.content = 'charge order 42'`)).toBe(1);
  });

  it('creates one task for one key sent 50 times at once over REST alone', async () => {
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => rest('/task', { content: 'rest only' }, { 'idempotency-key': 'rest-only-1' })),
    );
    expect(answers.every((a) => a.status === 201)).toBe(true);
    expect(new Set(answers.map((a) => a.json.id)).size).toBe(1);
    expect(await count(`select count(*) as n from task where content = 'rest only'`)).toBe(1);
  });

  it('answers a repeat with the first task as it is now, and other content with ALREADY_EXISTS / 409', async () => {
    const { task } = await grpc.createTask({ content: 'first', requestId: 'repeat-1' });
    await grpc.cancelTask({ taskId: task!.id });
    const again = await rest('/task', { content: 'first', request_id: 'repeat-1' });
    expect(again.status).toBe(201);
    expect(again.json).toMatchObject({ id: task!.id, status: 'canceled' });

    const other = await codeOf(grpc.createTask({ content: 'second', requestId: 'repeat-1' }));
    expect(other.code).toBe(Code.AlreadyExists);
    expect(other.message).toContain('repeat-1');
    const otherRest = await rest('/task', { content: 'second' }, { 'idempotency-key': 'repeat-1' });
    expect(otherRest.status).toBe(409);
    expect(otherRest.json.code).toBe(6);
    expect(await count(`select count(*) as n from task where content = 'second'`)).toBe(0);
  });

  it('frees a key after its lifetime, and the cleanup deletes the expired row', async () => {
    const { task: first } = await grpc.createTask({ content: 'before', requestId: 'expires-1' });
    const reused = await waitFor(
      async () => (await grpc.createTask({ content: 'after', requestId: 'expires-1' }).catch(() => ({ task: undefined }))).task,
      (task) => task !== undefined,
      { timeoutMs: 30_000, intervalMs: 250, description: 'the key to be free after its lifetime' },
    );
    expect(reused!.id).not.toBe(first!.id);
    expect(reused!.content).toBe('after');
    // The taken-over key now names the new task; once it expires too, the cleanup removes it.
    await waitFor(() => count(`select count(*) as n from idempotency_key where request_id = 'expires-1'`), (n) => n === 0, {
      timeoutMs: 30_000,
      intervalMs: 250,
      description: 'the cleanup to delete the expired key',
    });
  });

  it('creates once when the client retries a create whose connection was cut before the answer', async () => {
    const cutter = await startAnswerCutter(harness.api.url);
    try {
      const client = createTaskClient({ baseUrl: cutter.url, transport: 'grpc' });
      try {
        const task = await client.create('cut mid-call', { initialBackoffMs: 20 });
        expect(cutter.cuts).toBe(1);
        expect(await count(`select count(*) as n from task where content = 'cut mid-call'`)).toBe(1);
        const [row] = await harness.database.query<{ id: string }>(`select id from task where content = 'cut mid-call'`);
        expect(task.id).toBe(row!.id);
      } finally {
        client.close();
      }
    } finally {
      await cutter.close();
    }
  });
});

describe('BatchCreateTasks', () => {
  it('creates 1,000 tasks in one call, in request order, each with its outbox entry', async () => {
    const requests = Array.from({ length: 1_000 }, (_, i) => ({ content: `batch item ${i}` }));
    const { tasks } = await grpc.batchCreateTasks({ requests });
    expect(tasks.map((t) => t.content)).toEqual(requests.map((r) => r.content));
    expect(tasks.every((t) => t.status === TaskStatus.PENDING)).toBe(true);
    expect(await count(`select count(*) as n from task where content like 'batch item %'`)).toBe(1_000);
  });

  it('answers REST with 200 {"tasks": [...]} in request order, schedule_time only for the scheduled item', async () => {
    const at = new Date(Date.now() + 3_600_000).toISOString();
    const answer = await rest('/tasks:batchCreate', {
      requests: [{ content: 'rest batch 0' }, { content: 'rest batch 1', schedule_time: at, request_id: 'rb-1' }],
    });
    expect(answer.status).toBe(200);
    expect(answer.json.tasks.map((t: { content: string }) => t.content)).toEqual(['rest batch 0', 'rest batch 1']);
    expect(answer.json.tasks[0]).not.toHaveProperty('schedule_time');
    expect(answer.json.tasks[0]).toMatchObject({ status: 'pending', updated_at: null });
    expect(answer.json.tasks[1].schedule_time).toBe(`${at.slice(0, 19)}.${at.slice(20, 23)}000Z`);
    expect(answer.json.tasks[1].created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
  });

  it('answers items repeating a key with the first task, and creates nothing when one key was used with other content', async () => {
    await grpc.createTask({ content: 'taken', requestId: 'batch-taken' });
    const refused = await codeOf(
      grpc.batchCreateTasks({ requests: [{ content: 'b0' }, { content: 'b1', requestId: 'batch-taken' }] }),
    );
    expect(refused.code).toBe(Code.AlreadyExists);
    expect(refused.message).toContain('requests[1]');
    expect(await count(`select count(*) as n from task where content = 'b0'`)).toBe(0);

    const { tasks } = await grpc.batchCreateTasks({
      requests: [{ content: 'taken', requestId: 'batch-taken' }, { content: 'new', requestId: 'batch-new' }, { content: 'new', requestId: 'batch-new' }],
    });
    const [first] = await harness.database.query<{ id: string }>(`select id from task where content = 'taken'`);
    expect(tasks[0]!.id).toBe(first!.id);
    expect(tasks[1]!.id).toBe(tasks[2]!.id);
    expect(await count(`select count(*) as n from task where content = 'new'`)).toBe(1);
  });

  it('is answered during a broker outage and published once the broker is back', async () => {
    brokerProxy.block();
    try {
      const { tasks } = await grpc.batchCreateTasks({ requests: Array.from({ length: 100 }, (_, i) => ({ content: `outage ${i}` })) });
      expect(tasks).toHaveLength(100);
      expect(await count(`select count(*) as n from outbox o join task t on t.id = o.task_id where t.content like 'outage %'`)).toBe(100);
    } finally {
      brokerProxy.unblock();
    }
    await waitFor(() => count(`select count(*) as n from outbox o join task t on t.id = o.task_id where t.content like 'outage %'`), (n) => n === 0, {
      timeoutMs: 30_000,
      description: 'the outbox to drain after the outage',
    });
    const connection = await amqp.connect(loadTestEnv().AMQP_URL!);
    try {
      const channel = await connection.createChannel();
      const { messageCount } = await channel.checkQueue(harness.topology.taskQueue);
      expect(messageCount).toBeGreaterThanOrEqual(100);
    } finally {
      await connection.close();
    }
  });
});

describe('bad input is INVALID_ARGUMENT naming the field, and creates nothing', () => {
  const tooFar = () => timestampFromMs(Date.now() + 367 * 86_400_000);

  it.each([
    ['request_id with a space', { content: 'bad', requestId: 'a b' }, 'request_id'],
    ['request_id of 129 characters', { content: 'bad', requestId: 'a'.repeat(129) }, 'request_id'],
    ['request_id with non-ASCII', { content: 'bad', requestId: 'clé' }, 'request_id'],
    ['schedule_time over 366 days ahead', { content: 'bad', scheduleTime: tooFar() }, 'schedule_time'],
    ['schedule_time with nanos out of range', { content: 'bad', scheduleTime: { seconds: 1n, nanos: 1_000_000_000 } }, 'schedule_time'],
    ['schedule_time past year 9999', { content: 'bad', scheduleTime: { seconds: 253_402_300_800n, nanos: 0 } }, 'schedule_time'],
  ])('CreateTask: %s', async (_name, request, field) => {
    const answer = await codeOf(grpc.createTask(request as never));
    expect(answer.code).toBe(Code.InvalidArgument);
    expect(answer.message).toContain(field);
  });

  it('accepts a request_id of exactly 128 characters of the whole alphabet', async () => {
    const key = `AZaz09._:-${'x'.repeat(118)}`;
    const { task } = await grpc.createTask({ content: 'long key', requestId: key });
    expect(task!.content).toBe('long key');
  });

  it.each([
    ['no items', [], 'requests'],
    ['1,001 items', Array.from({ length: 1_001 }, () => ({ content: 'x' })), 'requests'],
    ['a bad item', [{ content: 'fine' }, { content: 'fine' }, { content: '' }], 'requests[2].content'],
    ['a bad key', [{ content: 'fine' }, { content: 'fine', requestId: 'no spaces' }], 'requests[1].request_id'],
    ['a bad schedule', [{ content: 'fine', scheduleTime: tooFar() }], 'requests[0].schedule_time'],
  ])('BatchCreateTasks: %s', async (_name, requests, field) => {
    const before = await count('select count(*) as n from task');
    const answer = await codeOf(grpc.batchCreateTasks({ requests: requests as never }));
    expect(answer.code).toBe(Code.InvalidArgument);
    expect(answer.message).toContain(field);
    expect(await count('select count(*) as n from task')).toBe(before);
  });

  it.each([
    ['an unknown body field', '/task', { content: 'x', priority: 1 }, {}],
    ['an unknown field in a batch item', '/tasks:batchCreate', { requests: [{ content: 'x', colour: 'red' }] }, {}],
    ['a malformed schedule_time', '/task', { content: 'x', schedule_time: 'tomorrow' }, {}],
    ['a bad Idempotency-Key', '/task', { content: 'x' }, { 'idempotency-key': 'has space' }],
    ['an Idempotency-Key unlike the body request_id', '/task', { content: 'x', request_id: 'a' }, { 'idempotency-key': 'b' }],
    ['an empty batch', '/tasks:batchCreate', { requests: [] }, {}],
  ])('REST: %s is 400 with code 3', async (_name, path, body, headers) => {
    const before = await count('select count(*) as n from task');
    const answer = await rest(path, body, headers);
    expect(answer.status).toBe(400);
    expect(answer.json.code).toBe(3);
    expect(await count('select count(*) as n from task')).toBe(before);
  });
});

/**
 * A TCP proxy in front of task-api that cuts the first connection as soon
 * as the server starts answering (the request reached the server and was
 * acted on, but the client never hears back), then passes every later one.
 */
async function startAnswerCutter(targetUrl: string): Promise<{ url: string; cuts: number; close(): Promise<void> }> {
  const target = new URL(targetUrl);
  const sockets = new Set<Socket>();
  const state = { url: '', cuts: 0, close: async () => {} };
  let first = true;
  const server: Server = createServer((client) => {
    const upstream = connect({ host: target.hostname, port: Number(target.port) });
    const cutThis = first;
    first = false;
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    if (!cutThis) {
      upstream.pipe(client);
      return;
    }
    // The server's SETTINGS arrive first and pass; the cut comes with the
    // first HEADERS frame (type 1) of the answer. Frames are reassembled
    // across chunks: a 9-byte header (24-bit length, type, ...) + payload.
    let pending = Buffer.alloc(0);
    upstream.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 9 && pending.length >= 9 + pending.readUIntBE(0, 3)) {
        const size = 9 + pending.readUIntBE(0, 3);
        if (pending[3] === 0x1) {
          state.cuts++;
          client.destroy();
          upstream.destroy();
          return;
        }
        client.write(pending.subarray(0, size));
        pending = pending.subarray(size);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return state;
}
