import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from './support/harness.js';
import { waitFor } from '../../../test/support/wait-for.js';

// The crash-loop cap: a task whose work kills its processor every time is
// interrupted, redelivered, dead-lettered at the delivery limit and queued
// again by the stale-task sweeper, round after round. After
// TASK_MAX_INTERRUPTIONS interrupted attempts its next claim ends it
// `failed` with the reason, and nothing queues it again.

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const KILLER = fileURLToPath(new URL('../../../test/support/handlers/kill-own-process.ts', import.meta.url));

const children = new Set<ChildProcess>();

/** Starts processors with the killing handler, one after another as each dies, until the task is final. */
async function crashUntilFinal(harness: Harness, taskId: string, env: Record<string, string>): Promise<number> {
  let spawned = 0;
  const deadline = Date.now() + 150_000;
  for (;;) {
    const status = await harness.statusOf(taskId);
    if (status === 'failed' || status === 'completed' || status === 'canceled') return spawned;
    if (Date.now() > deadline) throw new Error(`task still ${status} after ${spawned} processors`);
    const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', MAIN], {
      env: { PATH: process.env.PATH ?? '', ...harness.processEnv({ TASK_HANDLER: KILLER, ...env }), LOG_LEVEL: 'silent' },
      stdio: 'ignore',
    });
    children.add(child);
    spawned++;
    let gone = false;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    void exited.then(() => (gone = true));
    // Until it dies (it took the task) or the task is final (the cap ended it without running it).
    await waitFor(async () => gone || (await harness.statusOf(taskId)) === 'failed', Boolean, { timeoutMs: 150_000, intervalMs: 100, description: 'the processor to die or the task to fail' });
    // A processor still alive ended the task itself: stop it as an operator
    // would, so the ack of its last message is written first (a SIGKILL
    // returns an unacknowledged message to the queue, as any crash does).
    if (!gone) child.kill('SIGTERM');
    const stopped = await Promise.race([exited.then(() => true), delay(30_000).then(() => false)]);
    if (!stopped) child.kill('SIGKILL');
    await exited;
    children.delete(child);
  }
}

describe('crash-loop cap', () => {
  const harnesses: Harness[] = [];

  afterEach(() => {
    for (const child of children) child.kill('SIGKILL');
  });

  afterAll(async () => {
    for (const harness of harnesses) await harness.close();
  });

  // Each round starts a processor process (seconds each on a loaded machine).
  it('fails a task after TASK_MAX_INTERRUPTIONS interrupted attempts, with the reason, spending no failed attempt', { timeout: 180_000 }, async () => {
    const harness = await createHarness('processor_crash_loop');
    harnesses.push(harness);
    const task = await harness.createTask('kill the processor');

    const spawned = await crashUntilFinal(harness, task.id, { TASK_MAX_INTERRUPTIONS: '2' });

    expect(spawned).toBe(3); // two died, the third gave up
    const [row] = await harness.db.query<{ status: string; error: string; attempt: number; failed_attempts: number }>(
      'select status, error, attempt, failed_attempts from task where id = $1',
      [task.id],
    );
    expect(row).toMatchObject({ status: 'failed', attempt: 3, failed_attempts: 0 });
    expect(row!.error).toMatch(/^gave up after 2 interrupted attempts: the processor stopped or died during each/);
    expect((await harness.transitions(task.id)).map((t) => `${t.to_status}/${t.attempt}`)).toEqual([
      'pending/0',
      'processing/1',
      'processing/2',
      'processing/3',
      'failed/3',
    ]);
    expect(await harness.drainDeadLetters()).toEqual([]);
    expect(await harness.readyMessages()).toBe(0);
  });

  it('ends the loop through the delivery limit and the stale-task sweeper too: the task is failed and the dead-letter queue stops growing', { timeout: 180_000 }, async () => {
    // One redelivery per message, then the dead-letter queue; the sweeper
    // (stale period 1 s) queues the task again each time.
    const harness = await createHarness('processor_crash_loop_dlq', { QUEUE_DELIVERY_LIMIT: '1', TASK_STALE_AFTER_MS: '1000', TASK_TIMEOUT_MS: '500' });
    harnesses.push(harness);
    const api = await harness.startApi();
    try {
      const task = await harness.createTask('kill the processor');
      await crashUntilFinal(harness, task.id, { TASK_MAX_INTERRUPTIONS: '4' });

      expect(await harness.statusOf(task.id)).toBe('failed');
      expect((await harness.drainDeadLetters()).length).toBeGreaterThan(0); // the loop did go through the dead-letter queue
      const queuedAt = async (id: string) =>
        (await harness.db.query<{ at: string }>(`select queued_at::text as at from task where id = $1`, [id]))[0]!.at;
      const failedQueuedAt = await queuedAt(task.id);

      // A sweep after the end: a stale canary is queued again, the failed task is not.
      const canary = randomUUID();
      await harness.db.query(
        `insert into task (id, content, status, attempt, created_at, queued_at)
         values ($1, 'canary', 'pending', 0, clock_timestamp() - interval '1 hour', clock_timestamp() - interval '1 hour')`,
        [canary],
      );
      const canaryBefore = await queuedAt(canary);
      await waitFor(() => queuedAt(canary), (at) => at !== canaryBefore, { timeoutMs: 20_000, description: 'a sweep to queue the canary' });
      expect(await queuedAt(task.id)).toBe(failedQueuedAt);
      expect(await harness.statusOf(task.id)).toBe('failed');
      expect((await harness.drainDeadLetters()).length).toBe(0); // the dead-letter queue stopped growing
    } finally {
      await api.close();
    }
  });
});
