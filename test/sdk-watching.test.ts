import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MikroORM } from '@mikro-orm/postgresql';
import { TaskStore, openOrm } from '@taskproc/core';
import {
  TaskNotFoundError,
  TaskStatus,
  createTaskClient,
  listAllTasks,
  listTasks,
  waitForStatus,
  watchTask,
  type Task,
  type TaskClient,
  type TransportName,
} from '../sdk/typescript/src/index.js';
import { createTaskClient as createWebTaskClient } from '../sdk/typescript/src/web.js';
import { runTaskctl } from '../sdk/typescript/src/cli/taskctl.js';
import { startTaskApiHarness, type TaskApiHarness } from './support/task-api-harness.js';
import { waitFor } from './support/wait-for.js';

// The TypeScript client's listing and watching helpers, and taskctl list and
// watch, against a real task-api and PostgreSQL. Status changes are made
// with the store's guarded statements, as the processor makes them.

let harness: TaskApiHarness;
let orm: MikroORM;
let store: TaskStore;
const clients: TaskClient[] = [];

beforeAll(async () => {
  harness = await startTaskApiHarness('sdk_watching');
  orm = await openOrm({ databaseUrl: harness.database.url, poolSize: 2 });
  store = new TaskStore(orm);
});

afterAll(async () => {
  clients.forEach((client) => client.close());
  await orm?.close();
  await harness?.close();
});

function client(make: () => TaskClient): TaskClient {
  const made = make();
  clients.push(made);
  return made;
}

async function complete(id: string): Promise<void> {
  const claim = await store.claim(id, { reclaim: false });
  await store.completeIfHeld(id, claim!.attempt);
}

const variants: [string, () => TaskClient][] = [
  ...(['grpc', 'connect', 'grpc-web'] as TransportName[]).map(
    (transport): [string, () => TaskClient] => [`node ${transport}`, () => createTaskClient({ baseUrl: harness.api.url, transport })],
  ),
  ['web (fetch) connect', () => createWebTaskClient({ baseUrl: harness.api.url, transport: 'connect' })],
];

describe.each(variants)('@taskproc/client listing and watching, %s', (_name, make) => {
  it('lists one page and walks every page', async () => {
    const tasks = client(make);
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) ids.push((await tasks.createTask({ content: `page ${i}` })).task!.id);
    const page = await listTasks(tasks, { pageSize: 2 });
    expect(page.tasks.map((t) => t.id)).toEqual([ids[4], ids[3]]);
    expect(page.nextPageToken).not.toBe('');
    const all: string[] = [];
    for await (const task of listAllTasks(tasks, { pageSize: 2 })) all.push(task.id);
    expect(all.slice(0, 5)).toEqual([...ids].reverse());
    expect(new Set(all).size).toBe(all.length);
  });

  it('watches a task: each change once, in order, until the end', async () => {
    const tasks = client(make);
    const { task } = await tasks.createTask({ content: 'sdk watch' });
    const seen: string[] = [];
    for await (const current of watchTask(tasks, task!.id)) {
      seen.push(TaskStatus[current.status]);
      if (seen.length === 1) await complete(current.id);
    }
    expect(seen).toEqual(['PENDING', 'PROCESSING', 'COMPLETED']);
    await expect(watchTask(tasks, '0193f1f2-7c1e-7a55-9a0e-3f2b1c4d5e6f').next()).rejects.toBeInstanceOf(TaskNotFoundError);
  });
});

describe('waitForStatus', () => {
  it('follows the stream and never polls', async () => {
    const tasks = client(() => createTaskClient({ baseUrl: harness.api.url, transport: 'grpc' }));
    const { task } = await tasks.createTask({ content: 'waited for' });
    let reads = 0;
    const counting = { getTask: (...args: Parameters<TaskClient['getTask']>) => (reads++, tasks.getTask(...args)), watchTask: tasks.watchTask };
    const changes: TaskStatus[] = [];
    const waiting = waitForStatus(counting, task!.id, TaskStatus.COMPLETED, { intervalMs: 1, onStatus: (t: Task) => changes.push(t.status) });
    await waitFor(() => changes.length, (n) => n === 1, { description: 'the first status' });
    await complete(task!.id);
    const done = await waiting;
    expect(done.status).toBe(TaskStatus.COMPLETED);
    expect(changes).toEqual([TaskStatus.PENDING, TaskStatus.PROCESSING, TaskStatus.COMPLETED]);
    expect(reads).toBe(0);
  });
});

describe('taskctl list and watch', () => {
  async function taskctl(args: string[]) {
    let stdout = '';
    let stderr = '';
    const code = await runTaskctl({
      argv: args,
      env: { TASKCTL_URL: harness.api.url },
      stdin: Readable.from(['']),
      stdout: { write: (chunk: string) => (stdout += chunk) },
      stderr: { write: (chunk: string) => (stderr += chunk) },
    });
    return { code, stdout, stderr };
  }

  it('lists tasks as a table by default, as JSON lines with --json, filtered by --status', async () => {
    const tasks = client(() => createTaskClient({ baseUrl: harness.api.url }));
    const { task } = await tasks.createTask({ content: 'listed\nby taskctl' });
    await tasks.cancelTask({ taskId: task!.id });
    const table = await taskctl(['list', '--limit', '3']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATUS\s+CREATED\s+UPDATED\s+CONTENT$/);
    expect(lines).toHaveLength(4);
    expect(lines[1]).toContain(task!.id);
    expect(lines[1]).toContain('listed by taskctl');

    const canceled = await taskctl(['list', '--json', '--status', 'canceled', '--page-size', '1']);
    expect(canceled.code).toBe(0);
    const rows = canceled.stdout.trimEnd().split('\n').map((line) => JSON.parse(line));
    expect(rows.length).toBeGreaterThan(0);
    expect(rows[0].id).toBe(task!.id);
    expect(rows.every((row: { status: string }) => row.status === 'canceled')).toBe(true);

    const bad = await taskctl(['list', '--status', 'done']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--status/);
  });

  it('streams a watch until the final status', async () => {
    const tasks = client(() => createTaskClient({ baseUrl: harness.api.url }));
    const { task } = await tasks.createTask({ content: 'watched by taskctl' });
    const watching = taskctl(['watch', '--json', task!.id]);
    await waitFor(() => harness.api.watchStats().streams, (n) => n >= 1, { description: 'the watch stream' });
    await complete(task!.id);
    const result = await watching;
    expect(result.code).toBe(0);
    expect(result.stdout.trimEnd().split('\n').map((line) => JSON.parse(line).status)).toEqual(['pending', 'processing', 'completed']);
  });
});
