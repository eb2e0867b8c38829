import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { startTaskApiHarness, type TaskApiHarness } from '../../../test/support/task-api-harness.js';

// Stock gRPC tooling against the task-api: a @grpc/grpc-js client built from
// stubs generated (by @grpc/proto-loader) from our proto files, and `buf curl`
// discovering the service through server reflection.

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const run = promisify(execFile);

interface GrpcTask {
  id: string;
  content: string;
  status: string;
  created_at: { seconds: string; nanos: number } | null;
  updated_at?: { seconds: string; nanos: number } | null;
}
type Unary<Req, Res> = (request: Req, callback: (error: grpc.ServiceError | null, response: Res) => void) => void;
interface TaskServiceStub extends grpc.Client {
  CreateTask: Unary<{ content: string }, { task: GrpcTask }>;
  GetTask: Unary<{ task_id: string }, { task: GrpcTask }>;
  CancelTask: Unary<{ task_id: string }, { task: GrpcTask }>;
}

let harness: TaskApiHarness;
let stub: TaskServiceStub;

beforeAll(async () => {
  harness = await startTaskApiHarness('grpc_js');
  const definition = await protoLoader.load('taskproc/v1/task.proto', {
    includeDirs: [`${repoRoot}proto`, `${repoRoot}third_party/proto`],
    keepCase: true,
    enums: String,
    longs: String,
    defaults: false,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    taskproc: { v1: { TaskService: new (address: string, credentials: grpc.ChannelCredentials) => TaskServiceStub } };
  };
  stub = new loaded.taskproc.v1.TaskService(`127.0.0.1:${harness.api.port}`, grpc.credentials.createInsecure());
});

afterAll(async () => {
  stub?.close();
  await harness?.close();
});

function call<Req, Res>(method: Unary<Req, Res>, request: Req): Promise<Res> {
  return new Promise((resolve, reject) => method.call(stub, request, (error, response) => (error ? reject(error) : resolve(response))));
}

describe('a @grpc/grpc-js client', () => {
  it('creates, reads and cancels a task', async () => {
    const { task } = await call(stub.CreateTask, { content: 'from grpc-js' });
    expect(task.status).toBe('TASK_STATUS_PENDING');
    expect(task.updated_at ?? null).toBeNull(); // unset, not an epoch timestamp
    expect((await call(stub.GetTask, { task_id: task.id })).task.content).toBe('from grpc-js');
    const canceled = await call(stub.CancelTask, { task_id: task.id });
    expect(canceled.task.status).toBe('TASK_STATUS_CANCELED');
  });

  it('receives standard status codes', async () => {
    const error = await call(stub.GetTask, { task_id: 'nope' }).catch((e: grpc.ServiceError) => e);
    expect((error as grpc.ServiceError).code).toBe(grpc.status.INVALID_ARGUMENT);
    const missing = await call(stub.GetTask, { task_id: '0193f1f2-7c1e-7a55-9a0e-3f2b1c4d5e6f' }).catch((e: grpc.ServiceError) => e);
    expect((missing as grpc.ServiceError).code).toBe(grpc.status.NOT_FOUND);
  });
});

describe('buf curl through server reflection', () => {
  it('lists the TaskService methods and calls one without a local schema', async () => {
    const base = `http://127.0.0.1:${harness.api.port}`;
    const buf = `${repoRoot}node_modules/.bin/buf`;
    const flags = ['curl', '--protocol', 'grpc', '--http2-prior-knowledge'];
    const { stdout: methods } = await run(buf, [...flags, '--list-methods', base]);
    expect(methods).toContain('taskproc.v1.TaskService/CreateTask');
    expect(methods).toContain('grpc.health.v1.Health/Check');
    const { stdout } = await run(buf, [...flags, '-d', '{"content":"via buf curl"}', `${base}/taskproc.v1.TaskService/CreateTask`]);
    expect(JSON.parse(stdout).task).toMatchObject({ content: 'via buf curl', status: 'TASK_STATUS_PENDING' });
  });
});
