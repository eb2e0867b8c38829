import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { timestampDate, timestampFromMs } from '@bufbuild/protobuf/wkt';
import { createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { TaskService, TaskStatus } from '@taskproc/contract';
import { createLogger } from '@taskproc/core';
import { readProcessorConfig, startProcessor, type Processor } from '@taskproc/processor';
import { startTaskApi, type RunningTaskApi } from '@taskproc/task-api';
import { startTaskApiHarness, type TaskApiHarness } from './support/task-api-harness.js';
import { loadTestEnv } from './support/test-env.js';
import { waitFor } from './support/wait-for.js';

// Scheduled tasks end to end: task-api (outbox with not_before, the relay's
// due-time wake), RabbitMQ and a processor, on a database and queue
// namespace of their own. A scheduled task is stored pending at once and
// claimed only once its time has come.

const PROCESSING_DURATION_MS = 50;

let harness: TaskApiHarness;
let api: RunningTaskApi;
let processor: Processor;
let client: Client<typeof TaskService>;

beforeAll(async () => {
  harness = await startTaskApiHarness('scheduled_tasks');
  api = harness.api;
  client = createClient(TaskService, createGrpcTransport({ baseUrl: api.url }));
  const config = readProcessorConfig({
    ...loadTestEnv(),
    DATABASE_URL: harness.database.url,
    QUEUE_NAMESPACE: harness.config.queueNamespace,
    PROCESSING_DURATION_MS: String(PROCESSING_DURATION_MS),
  });
  processor = await startProcessor(config, createLogger('processor', config.logLevel));
});

afterAll(async () => {
  await processor?.close();
  if (api !== harness?.api) await api?.close();
  await harness?.close();
});

async function statusOf(id: string): Promise<TaskStatus> {
  return (await client.getTask({ taskId: id })).task!.status;
}

/** When the task was first claimed (its pending -> processing transition), or null. */
async function claimedAt(id: string): Promise<Date | null> {
  const [row] = await harness.database.query<{ at: Date }>(
    `select at from task_transition where task_id = $1 and to_status = 'processing' order by id limit 1`,
    [id],
  );
  return row?.at ?? null;
}

describe('scheduled tasks', () => {
  it('stays pending until its time, then runs to completed', async () => {
    const scheduleTime = timestampFromMs(Date.now() + 2_000);
    const { task } = await client.createTask({ content: 'in two seconds', scheduleTime });
    expect(task!.status).toBe(TaskStatus.PENDING);
    expect(task!.scheduleTime).toEqual(scheduleTime);

    // Still waiting well before its time: pending, unclaimed, its entry in the outbox.
    expect(await statusOf(task!.id)).toBe(TaskStatus.PENDING);
    const [entry] = await harness.database.query<{ n: string }>('select count(*) as n from outbox where task_id = $1', [task!.id]);
    expect(entry!.n).toBe('1');

    await waitFor(() => statusOf(task!.id), (s) => s === TaskStatus.COMPLETED, {
      timeoutMs: 20_000,
      description: 'the scheduled task to complete',
    });
    const claimed = await claimedAt(task!.id);
    expect(claimed!.getTime()).toBeGreaterThanOrEqual(timestampDate(scheduleTime).getTime() - 1);
  });

  it('runs a task scheduled in the past at once', async () => {
    const { task } = await client.createTask({ content: 'yesterday', scheduleTime: timestampFromMs(Date.now() - 86_400_000) });
    expect(task!.scheduleTime).toBeDefined();
    await waitFor(() => statusOf(task!.id), (s) => s === TaskStatus.COMPLETED, {
      timeoutMs: 20_000,
      description: 'the past-scheduled task to complete',
    });
  });

  it('never claims a task canceled before its time', async () => {
    const scheduleTime = timestampFromMs(Date.now() + 1_500);
    const { task } = await client.createTask({ content: 'canceled early', scheduleTime });
    await client.cancelTask({ taskId: task!.id });
    // Its message is published when due; the processor's guarded claim refuses it.
    await waitFor(
      async () => (await harness.database.query<{ n: string }>('select count(*) as n from outbox where task_id = $1', [task!.id]))[0]!.n,
      (n) => n === '0',
      { timeoutMs: 20_000, description: 'the entry to be published at its time' },
    );
    // A task due at the same time, created after, completing shows the processor got past the canceled one.
    const { task: witness } = await client.createTask({ content: 'witness', scheduleTime });
    await waitFor(() => statusOf(witness!.id), (s) => s === TaskStatus.COMPLETED, { timeoutMs: 20_000, description: 'the witness' });
    const { task: after } = await client.getTask({ taskId: task!.id });
    expect(after!.status).toBe(TaskStatus.CANCELED);
    expect(await claimedAt(task!.id)).toBeNull();
  });

  it('survives a task-api restart while waiting', async () => {
    const scheduleTime = timestampFromMs(Date.now() + 2_500);
    const { task } = await client.createTask({ content: 'across a restart', scheduleTime });
    await api.close();
    api = await startTaskApi(harness.config, createLogger('task-api', harness.config.logLevel));
    client = createClient(TaskService, createGrpcTransport({ baseUrl: api.url }));
    await waitFor(() => statusOf(task!.id), (s) => s === TaskStatus.COMPLETED, {
      timeoutMs: 20_000,
      description: 'the scheduled task to complete after the restart',
    });
    expect((await claimedAt(task!.id))!.getTime()).toBeGreaterThanOrEqual(timestampDate(scheduleTime).getTime() - 1);
  });
});
