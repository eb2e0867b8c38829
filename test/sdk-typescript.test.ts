import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Code,
  InvalidTaskError,
  ServiceUnavailableError,
  TaskClientError,
  TaskFinalError,
  TaskNotFoundError,
  TaskStatus,
  WaitTimeoutError,
  createTaskClient,
  toTaskJson,
  waitForStatus,
  type TaskClient,
  type TransportName,
} from '../sdk/typescript/src/index.js';
import { createTaskClient as createWebTaskClient } from '../sdk/typescript/src/web.js';
import { startTaskApiHarness, type TaskApiHarness } from './support/task-api-harness.js';
import { UUID } from './sdk/toolchain.js';
import { waitFor } from './support/wait-for.js';

// Proof of @taskproc/client (sdk/typescript) against a real task-api: each
// transport of the Node.js entry, the fetch-based web entry, the typed
// errors and waitForStatus.

const REST_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

let harness: TaskApiHarness;
const clients: TaskClient[] = [];

beforeAll(async () => {
  harness = await startTaskApiHarness('sdk_typescript');
});

afterAll(async () => {
  clients.forEach((client) => client.close());
  await harness?.close();
});

function track(client: TaskClient): TaskClient {
  clients.push(client);
  return client;
}

const variants: [string, () => TaskClient][] = [
  ...(['grpc', 'connect', 'grpc-web'] as TransportName[]).map(
    (transport): [string, () => TaskClient] => [`node ${transport}`, () => createTaskClient({ baseUrl: harness.api.url, transport })],
  ),
  ['node connect over HTTP/2', () => createTaskClient({ baseUrl: harness.api.url, transport: 'connect', httpVersion: '2' })],
  ['web (fetch) connect', () => createWebTaskClient({ baseUrl: harness.api.url, transport: 'connect' })],
  ['web (fetch) grpc-web', () => createWebTaskClient({ baseUrl: harness.api.url, transport: 'grpc-web' })],
];

describe.each(variants)('@taskproc/client, %s', (_name, create) => {
  it('creates, reads and cancels a task', async () => {
    const client = track(create());
    const content = `from the TypeScript client ${_name}`;
    const { task: created } = await client.createTask({ content });
    expect(created).toBeDefined();
    expect(created!.id).toMatch(UUID);
    expect(toTaskJson(created!)).toEqual({
      id: created!.id,
      content,
      status: 'pending',
      created_at: expect.stringMatching(REST_TIME),
      updated_at: null,
    });

    const { task: fetched } = await client.getTask({ taskId: created!.id });
    expect(toTaskJson(fetched!)).toEqual(toTaskJson(created!));

    const { task: canceled } = await client.cancelTask({ taskId: created!.id });
    expect(canceled!.status).toBe(TaskStatus.CANCELED);
    expect(toTaskJson(canceled!).updated_at).toMatch(REST_TIME);
    const rows = await harness.database.query('select status from task where id = $1', [created!.id]);
    expect(rows).toEqual([{ status: 'canceled' }]);
  });

  it('throws typed errors for the contract codes', async () => {
    const client = track(create());
    const { task } = await client.createTask({ content: 'to be canceled twice' });
    await client.cancelTask({ taskId: task!.id });

    const again = await client.cancelTask({ taskId: task!.id }).catch((error: unknown) => error);
    expect(again).toBeInstanceOf(TaskFinalError);
    expect(again).toMatchObject({ code: Code.FailedPrecondition, codeName: 'FAILED_PRECONDITION' });
    expect((again as Error).message).toMatch(/canceled/);

    await expect(client.getTask({ taskId: randomUUID() })).rejects.toBeInstanceOf(TaskNotFoundError);
    await expect(client.getTask({ taskId: 'not-a-uuid' })).rejects.toBeInstanceOf(InvalidTaskError);
    await expect(client.createTask({ content: '' })).rejects.toBeInstanceOf(InvalidTaskError);
  });
});

describe('ServiceUnavailableError', () => {
  it.each(['grpc', 'connect', 'grpc-web'] as TransportName[])('is thrown when nothing listens (%s)', async (transport) => {
    const client = track(createTaskClient({ baseUrl: `http://127.0.0.1:${await closedPort()}`, transport }));
    const error = await client.getTask({ taskId: randomUUID() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServiceUnavailableError);
    expect(error).toBeInstanceOf(TaskClientError);
    expect((error as TaskClientError).code).toBe(Code.Unavailable);
  });
});

describe('waitForStatus', () => {
  it('resolves when the task reaches an awaited status, reporting each change', async () => {
    const client = track(createTaskClient({ baseUrl: harness.api.url, transport: 'grpc' }));
    const { task } = await client.createTask({ content: 'watched' });
    const seen: TaskStatus[] = [];
    const waiting = waitForStatus(client, task!.id, [TaskStatus.COMPLETED, TaskStatus.CANCELED], {
      intervalMs: 20,
      onStatus: (t) => seen.push(t.status),
    });
    // No processor runs here: the task stays pending until this cancel.
    await expectEventually(() => seen.length > 0);
    await client.cancelTask({ taskId: task!.id });

    const final = await waiting;
    expect(final.status).toBe(TaskStatus.CANCELED);
    expect(seen).toEqual([TaskStatus.PENDING, TaskStatus.CANCELED]);
  });

  it('rejects with WaitTimeoutError naming the last status when time runs out', async () => {
    const client = track(createTaskClient({ baseUrl: harness.api.url }));
    const { task } = await client.createTask({ content: 'never processed here' });
    const error = await waitForStatus(client, task!.id, TaskStatus.COMPLETED, { timeoutMs: 200, intervalMs: 20 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect((error as WaitTimeoutError).lastTask?.status).toBe(TaskStatus.PENDING);
    expect((error as Error).message).toMatch(/did not become completed within 200 ms \(last status: pending\)/);
  });

  it('rejects with the abort reason when its signal is aborted', async () => {
    const client = track(createTaskClient({ baseUrl: harness.api.url }));
    const { task } = await client.createTask({ content: 'abandoned' });
    const controller = new AbortController();
    const reason = new Error('stop waiting');
    let reads = 0;
    const waiting = waitForStatus({ getTask: (...args) => (reads++, client.getTask(...args)) }, task!.id, TaskStatus.COMPLETED, {
      intervalMs: 20,
      signal: controller.signal,
    });
    await expectEventually(() => reads >= 2);
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
  });

  it('passes on the client errors, e.g. for an unknown task', async () => {
    const client = track(createTaskClient({ baseUrl: harness.api.url }));
    await expect(waitForStatus(client, randomUUID(), TaskStatus.COMPLETED)).rejects.toBeInstanceOf(TaskNotFoundError);
  });
});

/** A port that was free a moment ago and has nothing listening now. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function expectEventually(condition: () => boolean): Promise<void> {
  await waitFor(condition, Boolean, { timeoutMs: 5_000, description: 'the watcher to read the task' });
}
