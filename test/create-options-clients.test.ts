import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTaskctl } from '../sdk/typescript/src/cli/taskctl.js';
import { Code, ConnectError, createRouterTransport } from '@connectrpc/connect';
import { TaskService } from '@taskproc/contract';
import {
  RequestIdConflictError,
  TaskStatus,
  createTaskClient,
  createTaskClientFromTransport,
  toTaskJson,
  type TaskClient,
} from '../sdk/typescript/src/index.js';
import { startTaskApiHarness, type TaskApiHarness } from './support/task-api-harness.js';
import type { RunResult } from './sdk/toolchain.js';

// The create options through the TypeScript client (create, createTasks) and
// taskctl create (--request-id, --at, --file), against a real task-api.

const REST_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

let harness: TaskApiHarness;
let client: TaskClient;
let workDir: string;

beforeAll(async () => {
  harness = await startTaskApiHarness('create_options_clients');
  client = createTaskClient({ baseUrl: harness.api.url, transport: 'grpc' });
  workDir = await mkdtemp(join(tmpdir(), 'taskproc-create-options-'));
});

afterAll(async () => {
  client?.close();
  await harness?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

async function taskctl(args: string[], input = ''): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  const code = await runTaskctl({
    argv: args,
    env: { TASKCTL_URL: harness.api.url },
    stdin: Readable.from([input]),
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: { write: (chunk: string) => (stderr += chunk) },
  });
  return { code, signal: null, stdout, stderr };
}

async function countContent(pattern: string): Promise<number> {
  const [row] = await harness.database.query<{ n: string }>('select count(*) as n from task where content like $1', [pattern]);
  return Number(row!.n);
}

describe('TypeScript client create options', () => {
  it('create() gives each call a fresh key, and a given key makes a repeat answer the first task', async () => {
    const a = await client.create('fresh key each');
    const b = await client.create('fresh key each');
    expect(a.id).not.toBe(b.id);

    const first = await client.create('keyed', { requestId: 'ts-client-1' });
    const repeat = await client.create('keyed', { requestId: 'ts-client-1' });
    expect(repeat.id).toBe(first.id);
    await expect(client.create('other', { requestId: 'ts-client-1' })).rejects.toBeInstanceOf(RequestIdConflictError);
  });

  it('create() takes a schedule time as a Date', async () => {
    const at = new Date(Date.now() + 3_600_000);
    const task = await client.create('scheduled from ts', { scheduleTime: at });
    expect(task.status).toBe(TaskStatus.PENDING);
    expect(toTaskJson(task).schedule_time).toBe(`${at.toISOString().slice(0, 23)}000Z`);
  });

  it('createTasks() creates 2,500 items in order, 1,000 per call', async () => {
    const sizes: number[] = [];
    const counting = createTaskClient({
      baseUrl: harness.api.url,
      transport: 'grpc',
      interceptors: [(next) => async (request) => {
        if (request.method.name === 'BatchCreateTasks') sizes.push((request.message as unknown as { requests: unknown[] }).requests.length);
        return next(request);
      }],
    });
    try {
      const contents = Array.from({ length: 2_500 }, (_, i) => `many ${i}`);
      const tasks = await counting.createTasks(contents);
      expect(tasks.map((t) => t.content)).toEqual(contents);
      expect(sizes).toEqual([1_000, 1_000, 500]);
      expect(await countContent('many %')).toBe(2_500);
    } finally {
      counting.close();
    }
  });
});

describe('taskctl create options', () => {
  it('--file - creates one task per line of stdin, in order', async () => {
    const result = await taskctl(['--json', 'create', '--file', '-'], 'line one\nline two\n\nline three\n');
    expect(result.code, result.stderr).toBe(0);
    const printed = result.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(printed.map((t: { content: string }) => t.content)).toEqual(['line one', 'line two', 'line three']);
  });

  it('--file <path> batches a long file, printing one id per line', async () => {
    const path = join(workDir, 'contents.txt');
    await writeFile(path, Array.from({ length: 1_200 }, (_, i) => `from file ${i}`).join('\n'));
    const result = await taskctl(['create', '--file', path]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(1_200);
    expect(await countContent('from file %')).toBe(1_200);
  });

  it('--request-id makes a repeat print the first task, and other content exit 8 (ALREADY_EXISTS)', async () => {
    const first = await taskctl(['--json', 'create', '--request-id', 'taskctl-1', 'by key']);
    const repeat = await taskctl(['--json', 'create', '--request-id', 'taskctl-1', 'by key']);
    expect(JSON.parse(repeat.stdout).id).toBe(JSON.parse(first.stdout).id);
    const other = await taskctl(['create', '--request-id', 'taskctl-1', 'other']);
    expect(other.code).toBe(8);
    expect(other.stderr).toMatch(/\[ALREADY_EXISTS\]\n$/);
  });

  it('--at schedules the task and prints its schedule_time', async () => {
    const at = `${new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 19)}.5Z`;
    const result = await taskctl(['--json', 'create', '--at', at, 'later by taskctl']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: 'pending', schedule_time: `${at.slice(0, 19)}.500000Z` });
    expect(JSON.parse(result.stdout).created_at).toMatch(REST_TIME);
  });

  it.each([
    [['create', '--at', 'tomorrow', 'x'], /--at must be an RFC 3339 time/],
    [['create', '--file', '-'], /stdin holds no content/],
    [['create', '--file', '-', '--request-id', 'k'], /--request-id names one create/],
    [['get', '--at', '2030-01-01T00:00:00Z', '0193f1f2-7c1e-7a55-9a0e-3f2b1c4d5e6f'], /options of create/],
  ])('refuses %j as a usage error (exit 2)', async (args, message) => {
    const result = await taskctl(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('--request-id with a bad alphabet is INVALID_ARGUMENT (exit 4)', async () => {
    const result = await taskctl(['create', '--request-id', 'no spaces please', 'x']);
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/request_id/);
  });
});

describe('the create helper retries with the same request_id', () => {
  /** A TaskService whose CreateTask fails with `codes` in turn, then succeeds; records each request_id. */
  function flakyClient(codes: Code[]) {
    const seen: string[] = [];
    const transport = createRouterTransport(({ service }) =>
      service(TaskService, {
        createTask(request) {
          seen.push(request.requestId);
          const code = codes.shift();
          if (code !== undefined) throw new ConnectError('flaky', code);
          return { task: { id: 'the-task', content: request.content } };
        },
      }),
    );
    return { client: createTaskClientFromTransport(transport), seen };
  }

  it('retries UNAVAILABLE, DEADLINE_EXCEEDED and a cut connection (CANCELED) with one key', async () => {
    const { client, seen } = flakyClient([Code.Unavailable, Code.DeadlineExceeded, Code.Canceled]);
    const task = await client.create('flaky', { initialBackoffMs: 1 });
    expect(task.id).toBe('the-task');
    expect(seen).toHaveLength(4);
    expect(new Set(seen).size).toBe(1);
    expect(seen[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('gives up after the attempts, and never retries other codes', async () => {
    const down = flakyClient([Code.Unavailable, Code.Unavailable, Code.Unavailable]);
    await expect(down.client.create('down', { attempts: 2, initialBackoffMs: 1 })).rejects.toMatchObject({ code: Code.Unavailable });
    expect(down.seen).toHaveLength(2);
    const invalid = flakyClient([Code.InvalidArgument]);
    await expect(invalid.client.create('bad', { initialBackoffMs: 1 })).rejects.toMatchObject({ code: Code.InvalidArgument });
    expect(invalid.seen).toHaveLength(1);
  });
});
