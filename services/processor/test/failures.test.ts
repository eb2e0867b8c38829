import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TaskStatus } from '@taskproc/contract';
import type { TaskHandler } from '@taskproc/handler';
import { startProcessor, type Processor } from '../src/processor.js';
import { MAX_ERROR_LENGTH } from '../src/tasks/failure-message.js';
import { createHarness, type Harness } from './support/harness.js';
import { spawnProcessor } from './support/processor-process.js';
import { waitFor } from '../../../test/support/wait-for.js';

// Work that fails: failed attempts go back to pending and are queued again
// through the outbox after a backoff, until the last one ends the task
// failed; timeouts, cancels and interruptions; a retry brings a failed task
// back. A real task-api runs beside the processors: its outbox relay
// publishes the retries when their not-before time comes.

interface Event {
  to_status: string;
  attempt: number;
  error: string | null;
  at_ms: number;
}

let harness: Harness;
let api: Awaited<ReturnType<Harness['startApi']>>;
const processors: Processor[] = [];

beforeAll(async () => {
  harness = await createHarness('processor_failures');
  api = await harness.startApi();
});

afterEach(async () => {
  await Promise.all(processors.splice(0).map((p) => p.close()));
});

afterAll(async () => {
  await api?.close();
  await harness?.close();
});

async function start(handler: TaskHandler, settings: Record<string, string> = {}): Promise<Processor> {
  const processor = await startProcessor(harness.configWith(settings), undefined, { handler });
  processors.push(processor);
  return processor;
}

/** The task's history as the trigger recorded it, with each event's time in ms (database clock). */
async function events(taskId: string): Promise<Event[]> {
  const rows = await harness.db.query<Event>(
    `select to_status, attempt, error, extract(epoch from at)::float8 * 1000 as at_ms from task_transition where task_id = $1 order by id`,
    [taskId],
  );
  return rows.map((r) => ({ ...r, at_ms: Number(r.at_ms) }));
}

const shape = (list: Event[]) => list.map((e) => `${e.to_status}/${e.attempt}${e.error ? ` ${e.error}` : ''}`);

async function row(taskId: string) {
  const [r] = await harness.db.query<{ status: string; attempt: number; failed_attempts: number; error: string | null }>(
    'select status, attempt, failed_attempts, error from task where id = $1',
    [taskId],
  );
  return r!;
}

const untilStatus = (taskId: string, status: string, timeoutMs = 20_000) =>
  waitFor(() => harness.statusOf(taskId), (s) => s === status, { timeoutMs, description: `task ${status}` });

/** A handler that waits for its signal, then rejects with its reason. */
const waitForAbort: TaskHandler = (_task, { signal }) =>
  new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });

describe('failed attempts', () => {
  it('retries a handler that fails twice: completed at attempt 3, both errors in the events, backoff gaps within bounds', async () => {
    const base = 300;
    await start(
      async (_task, { failedAttempts }) => {
        if (failedAttempts < 2) throw new Error(`boom ${failedAttempts + 1}`);
      },
      { TASK_RETRY_BASE_MS: String(base), TASK_RETRY_MAX_MS: '10000', TASK_MAX_ATTEMPTS: '3' },
    );
    const { task } = await api.client.createTask({ content: 'flaky' });
    await untilStatus(task!.id, 'completed');

    const history = await events(task!.id);
    expect(shape(history)).toEqual([
      'pending/0',
      'processing/1',
      'pending/1 boom 1',
      'processing/2',
      'pending/2 boom 2',
      'processing/3',
      'completed/3',
    ]);
    // After the n-th failure the wait is base * 2^(n-1), jittered to between
    // half and all of it; the upper bound allows for a loaded machine.
    const gap = (failedAt: number) => history[failedAt + 1]!.at_ms - history[failedAt]!.at_ms;
    expect(gap(2)).toBeGreaterThanOrEqual(base / 2);
    expect(gap(2)).toBeLessThan(base + 5_000);
    expect(gap(4)).toBeGreaterThanOrEqual(base);
    expect(gap(4)).toBeLessThan(2 * base + 5_000);
    expect(await row(task!.id)).toMatchObject({ status: 'completed', attempt: 3, failed_attempts: 2 });
    // A completed task shows no error.
    expect((await api.client.getTask({ taskId: task!.id })).task!.error).toBeUndefined();
  });

  it('fails a task whose every attempt fails after TASK_MAX_ATTEMPTS, with the message and no stack; a retry runs it again', async () => {
    let broken = true;
    await start(
      async () => {
        if (broken) throw new Error(`the image is corrupt: ${'x'.repeat(3 * MAX_ERROR_LENGTH)}`);
      },
      { TASK_RETRY_BASE_MS: '50', TASK_MAX_ATTEMPTS: '3' },
    );
    const { task } = await api.client.createTask({ content: 'always fails' });
    const id = task!.id;
    await untilStatus(id, 'failed');

    const failed = (await api.client.getTask({ taskId: id })).task!;
    expect(failed.status).toBe(TaskStatus.FAILED);
    expect(failed.error!.startsWith('the image is corrupt: xxx')).toBe(true);
    expect([...failed.error!]).toHaveLength(MAX_ERROR_LENGTH);
    expect(failed.error!.endsWith('…')).toBe(true);
    expect(failed.error).not.toContain('    at ');
    const history = await events(id);
    expect(history.map((e) => `${e.to_status}/${e.attempt}`)).toEqual(['pending/0', 'processing/1', 'pending/1', 'processing/2', 'pending/2', 'processing/3', 'failed/3']);
    // Every failed attempt's error is in its event.
    expect(history.map((e) => e.error)).toEqual([null, null, failed.error, null, failed.error, null, failed.error]);
    expect(await row(id)).toMatchObject({ attempt: 3, failed_attempts: 3 });

    broken = false;
    const { task: retried } = await api.client.retryTask({ taskId: id });
    expect(retried!.status).toBe(TaskStatus.PENDING);
    await untilStatus(id, 'completed');
    expect(shape(await events(id)).slice(-4)).toEqual(['failed/3 ' + failed.error, 'pending/0', 'processing/1', 'completed/1']);
  });

  it('aborts a hanging handler at TASK_TIMEOUT_MS through its signal and fails the attempt', async () => {
    const reasons: unknown[] = [];
    await start(
      (task, context) => {
        context.signal.addEventListener('abort', () => reasons.push(context.signal.reason));
        return waitForAbort(task, context);
      },
      { TASK_TIMEOUT_MS: '300', TASK_MAX_ATTEMPTS: '1' },
    );
    const { task } = await api.client.createTask({ content: 'hangs' });
    await untilStatus(task!.id, 'failed');
    expect((await row(task!.id)).error).toBe('timed out after 300 ms');
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatchObject({ name: 'TimeoutError' });
    const history = await events(task!.id);
    expect(history.at(-1)!.at_ms - history.at(-2)!.at_ms).toBeGreaterThanOrEqual(300);
  });

  it('abandons a handler that ignores its signal: its slot is freed at the timeout and its late completion changes nothing', async () => {
    let stubbornDone = false;
    const processor = await start(
      async (task) => {
        if (task.content !== 'stubborn') return;
        await new Promise((resolve) => setTimeout(resolve, 2_500)); // no signal: cannot be stopped
        stubbornDone = true;
      },
      { TASK_TIMEOUT_MS: '300', TASK_MAX_ATTEMPTS: '1', PROCESSOR_PREFETCH: '1' },
    );
    const { task: stubborn } = await api.client.createTask({ content: 'stubborn' });
    await untilStatus(stubborn!.id, 'failed');
    // With one slot, the next task runs while the abandoned handler still does.
    const { task: next } = await api.client.createTask({ content: 'next' });
    await untilStatus(next!.id, 'completed');
    expect(stubbornDone).toBe(false);

    await waitFor(() => stubbornDone, Boolean, { description: 'the abandoned handler to finish' });
    expect(await row(stubborn!.id)).toMatchObject({ status: 'failed', error: 'timed out after 300 ms' });
    expect(shape(await events(stubborn!.id))).toEqual(['pending/0', 'processing/1', 'failed/1 timed out after 300 ms']);
    expect(processor.stats().inFlight).toBe(0);
  });
});

describe('cancels and interruptions are not failures', () => {
  it('a cancel during an attempt ends canceled, even when the handler throws its own error on the abort', async () => {
    let aborted = false;
    await start(async (_task, { signal }) => {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      aborted = true;
      throw new Error('stopped half-way');
    });
    const { task } = await api.client.createTask({ content: 'cancel me while running' });
    await untilStatus(task!.id, 'processing');
    await api.client.cancelTask({ taskId: task!.id });
    await waitFor(() => aborted, Boolean, { description: 'the handler to see the abort' });
    expect(await row(task!.id)).toMatchObject({ status: 'canceled', failed_attempts: 0 });
    expect(shape(await events(task!.id))).toEqual(['pending/0', 'processing/1', 'canceled/1']);
  });

  it('a cancel during the backoff wait ends canceled; the retry message that comes later changes nothing', async () => {
    const settled: string[] = [];
    const processor = await start(
      async () => {
        throw new Error('boom');
      },
      { TASK_RETRY_BASE_MS: '1500', TASK_RETRY_MAX_MS: '1500', TASK_MAX_ATTEMPTS: '3' },
    );
    const { task } = await api.client.createTask({ content: 'cancel me while waiting' });
    const id = task!.id;
    processor.events.on('settled', (s) => s.taskId === id && settled.push(s.outcome));
    await waitFor(() => row(id), (r) => r.status === 'pending' && r.failed_attempts === 1, { description: 'the backoff wait' });
    await api.client.cancelTask({ taskId: id });

    // The waiting entry is still published when due, and meets the guarded claim.
    await waitFor(() => settled, (s) => s.includes('duplicate'), { description: 'the retry message handled' });
    expect(await row(id)).toMatchObject({ status: 'canceled', failed_attempts: 1 });
    expect(shape(await events(id))).toEqual(['pending/0', 'processing/1', 'pending/1 boom', 'canceled/1']);
  });

  it('a processor killed with SIGKILL mid-attempt spends no failed attempt', async () => {
    const victim = await spawnProcessor(harness.processEnv({ TASK_HANDLER: fileURLToPath(new URL('../../../examples/handlers/hang.ts', import.meta.url)) }));
    const { task } = await api.client.createTask({ content: 'interrupted' });
    await untilStatus(task!.id, 'processing');
    victim.child.kill('SIGKILL');
    await victim.exited;

    await start(async () => {});
    await untilStatus(task!.id, 'completed');
    expect(await row(task!.id)).toMatchObject({ attempt: 2, failed_attempts: 0 });
    expect(shape(await events(task!.id))).toEqual(['pending/0', 'processing/1', 'processing/2', 'completed/2']);
  });
});

describe('the backoff wait holds no prefetch slot', () => {
  it('many failing tasks waiting out their backoff do not block healthy ones', async () => {
    const prefetch = 2;
    const processor = await start(
      async (task) => {
        if (task.content.startsWith('bad')) throw new Error('bad input');
      },
      // A wait far longer than the test: the failing tasks sit in the outbox meanwhile.
      { PROCESSOR_PREFETCH: String(prefetch), TASK_RETRY_BASE_MS: '600000', TASK_RETRY_MAX_MS: '600000', TASK_MAX_ATTEMPTS: '5' },
    );
    const bad = await Promise.all(Array.from({ length: 10 * prefetch }, (_, i) => api.client.createTask({ content: `bad ${i}` })));
    await waitFor(
      () => harness.db.query<{ n: number }>(`select count(*)::int as n from task where status = 'pending' and failed_attempts = 1`),
      (rows) => rows[0]!.n === bad.length,
      { description: 'every bad task waiting out its backoff' },
    );
    const good = await Promise.all(Array.from({ length: 5 }, (_, i) => api.client.createTask({ content: `good ${i}` })));
    for (const { task } of good) await untilStatus(task!.id, 'completed');

    expect(processor.stats().inFlight).toBe(0);
    expect(await harness.readyMessages()).toBe(0); // the waits are in the outbox, not in the broker
    const [{ n }] = (await harness.db.query<{ n: number }>(`select count(*)::int as n from outbox where not_before > clock_timestamp()`)) as [{ n: number }];
    expect(n).toBe(bad.length);
  });
});
