import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import { TaskService, TaskStatus } from '@taskproc/contract';
import { TaskStore, openOrm } from '@taskproc/core';
import { startTaskApiHarness, type TaskApiHarness } from '../../../test/support/task-api-harness.js';

// The TaskService over the network, against a real task-api, PostgreSQL and
// RabbitMQ: the Connect protocol over HTTP/1.1 and gRPC over cleartext HTTP/2
// reach the same router on the same port.

let harness: TaskApiHarness;
let connect: Client<typeof TaskService>;
let grpc: Client<typeof TaskService>;

beforeAll(async () => {
  harness = await startTaskApiHarness('task_service');
  connect = createClient(TaskService, createConnectTransport({ baseUrl: harness.api.url, httpVersion: '1.1' }));
  grpc = createClient(TaskService, createGrpcTransport({ baseUrl: harness.api.url }));
});

afterAll(async () => {
  await harness?.close();
});

async function codeOf(call: Promise<unknown>): Promise<Code | 'OK'> {
  try {
    await call;
    return 'OK';
  } catch (error) {
    return ConnectError.from(error).code;
  }
}

describe('CreateTask and GetTask', () => {
  it('returns a pending task that reads back the same over both protocols', async () => {
    const { task } = await connect.createTask({ content: 'resize image 42' });
    expect(task).toBeDefined();
    expect(task!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(task!.content).toBe('resize image 42');
    expect(task!.status).toBe(TaskStatus.PENDING);
    expect(task!.createdAt).toBeDefined();
    expect(task!.updatedAt).toBeUndefined();

    const viaGrpc = await grpc.getTask({ taskId: task!.id });
    expect(viaGrpc.task).toEqual(task);
  });

  it('keeps microsecond precision in created_at', async () => {
    const { task } = await grpc.createTask({ content: 'precise' });
    const [row] = await harness.database.query<{ micros: string }>(
      `select extract(microseconds from created_at)::bigint % 1000000 as micros from task where id = $1`,
      [task!.id],
    );
    expect(task!.createdAt!.nanos).toBe(Number(row!.micros) * 1000);
  });

  it('accepts content of exactly 65,536 UTF-8 bytes and refuses one byte more', async () => {
    const fourByteChar = '\u{1F600}';
    const exact = fourByteChar.repeat(16_384);
    expect(Buffer.byteLength(exact)).toBe(65_536);
    const { task } = await grpc.createTask({ content: exact });
    expect(task!.content).toBe(exact);
    expect(await codeOf(grpc.createTask({ content: `${exact}a` }))).toBe(Code.InvalidArgument);
  });

  it('refuses empty content with INVALID_ARGUMENT and stores nothing', async () => {
    const [before] = await harness.database.query<{ n: string }>('select count(*) as n from task');
    expect(await codeOf(connect.createTask({ content: '' }))).toBe(Code.InvalidArgument);
    const [after] = await harness.database.query<{ n: string }>('select count(*) as n from task');
    expect(after!.n).toBe(before!.n);
  });

  it('answers INVALID_ARGUMENT for a malformed id and NOT_FOUND for an unknown one', async () => {
    expect(await codeOf(grpc.getTask({ taskId: 'not-a-uuid' }))).toBe(Code.InvalidArgument);
    expect(await codeOf(grpc.getTask({ taskId: '' }))).toBe(Code.InvalidArgument);
    expect(await codeOf(grpc.getTask({ taskId: '0193f1f2-7c1e-7a55-9a0e-3f2b1c4d5e6f' }))).toBe(Code.NotFound);
  });

  it('finds a task by its id written in upper case', async () => {
    const { task } = await grpc.createTask({ content: 'case' });
    const { task: found } = await grpc.getTask({ taskId: task!.id.toUpperCase() });
    expect(found!.id).toBe(task!.id);
  });
});

describe('CancelTask', () => {
  it('cancels a pending task and sets updated_at', async () => {
    const { task } = await grpc.createTask({ content: 'to cancel' });
    const { task: canceled } = await connect.cancelTask({ taskId: task!.id });
    expect(canceled!.status).toBe(TaskStatus.CANCELED);
    expect(canceled!.updatedAt).toBeDefined();
    const { task: read } = await grpc.getTask({ taskId: task!.id });
    expect(read).toEqual(canceled);
  });

  it('refuses to cancel a canceled task, naming its status', async () => {
    const { task } = await grpc.createTask({ content: 'twice' });
    await grpc.cancelTask({ taskId: task!.id });
    const error = await grpc.cancelTask({ taskId: task!.id }).catch((e: unknown) => ConnectError.from(e));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.FailedPrecondition);
    expect((error as ConnectError).rawMessage).toContain('canceled');
  });

  it('refuses to cancel a completed task, naming its status', async () => {
    const { task } = await grpc.createTask({ content: 'done already' });
    // Drive the task to completed the way a processor does.
    const orm = await openOrm({ databaseUrl: harness.config.databaseUrl, poolSize: 1 });
    try {
      const store = new TaskStore(orm);
      const claim = await store.claim(task!.id, { reclaim: false });
      expect(await store.completeIfHeld(task!.id, claim!.attempt)).toBe(true);
    } finally {
      await orm.close();
    }
    const error = await connect.cancelTask({ taskId: task!.id }).catch((e: unknown) => ConnectError.from(e));
    expect((error as ConnectError).code).toBe(Code.FailedPrecondition);
    expect((error as ConnectError).rawMessage).toContain('completed');
  });

  it('answers NOT_FOUND for an unknown task and INVALID_ARGUMENT for a malformed id', async () => {
    expect(await codeOf(grpc.cancelTask({ taskId: '0193f1f2-7c1e-7a55-9a0e-3f2b1c4d5e6f' }))).toBe(Code.NotFound);
    expect(await codeOf(grpc.cancelTask({ taskId: '123' }))).toBe(Code.InvalidArgument);
  });
});

describe('CheckHealth', () => {
  it('answers ok while the database is reachable', async () => {
    expect(await connect.checkHealth({})).toMatchObject({ status: 'ok' });
  });
});
