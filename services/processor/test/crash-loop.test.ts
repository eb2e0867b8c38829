import { spawn, type ChildProcess } from 'node:child_process';
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
  const deadline = Date.now() + 120_000;
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
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // Until it dies (it took the task) or the task is final (the cap ended it without running it).
    await Promise.race([exited, waitFor(() => harness.statusOf(taskId), (s) => s === 'failed', { timeoutMs: 120_000 }).catch(() => undefined)]);
    child.kill('SIGKILL');
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

  it('fails a task after TASK_MAX_INTERRUPTIONS interrupted attempts, with the reason, spending no failed attempt', async () => {
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

  it('ends the loop through the delivery limit and the stale-task sweeper too: the task is failed and the dead-letter queue stops growing', async () => {
    // One redelivery per message, then the dead-letter queue; the sweeper
    // (stale period 1 s) queues the task again each time.
    const harness = await createHarness('processor_crash_loop_dlq', { QUEUE_DELIVERY_LIMIT: '1', TASK_STALE_AFTER_MS: '1000', TASK_TIMEOUT_MS: '500' });
    harnesses.push(harness);
    const api = await harness.startApi();
    try {
      const task = await harness.createTask('kill the processor');
      await crashUntilFinal(harness, task.id, { TASK_MAX_INTERRUPTIONS: '4' });

      expect(await harness.statusOf(task.id)).toBe('failed');
      // The loop did go through the dead-letter queue. How many copies it
      // left there depends on how often the sweeper ran while processors
      // restarted (a loaded machine restarts them slowly); what the cap
      // promises is that the queue stops growing once the task is failed.
      expect((await harness.drainDeadLetters()).length).toBeGreaterThan(0);
      // Over three stale periods (several sweeps) nothing queues the failed
      // task again: no outbox entry, no message, no new dead letter.
      const quietUntil = Date.now() + 3_000;
      while (Date.now() < quietUntil) {
        const [{ n }] = (await harness.db.query<{ n: number }>(`select count(*)::int as n from outbox where task_id = $1`, [task.id])) as [{ n: number }];
        expect(n).toBe(0);
        expect(await harness.readyMessages()).toBe(0);
        expect(await harness.drainDeadLetters()).toEqual([]);
        expect(await harness.statusOf(task.id)).toBe('failed');
      }
    } finally {
      await api.close();
    }
  });
});
