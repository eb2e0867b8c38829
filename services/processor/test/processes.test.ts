import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startProcessor, type Processor } from '../src/processor.js';
import { createHarness, type Harness } from './support/harness.js';
import { spawnProcessor, type ProcessorProcess } from './support/processor-process.js';
import { waitFor } from '../../../test/support/wait-for.js';

// The processor as a process: killed, stopped with SIGTERM, stopped twice.
describe('processor processes', () => {
  let harness: Harness;
  const children: ProcessorProcess[] = [];
  const inProcess: Processor[] = [];

  beforeAll(async () => {
    harness = await createHarness('processor_processes');
  });

  afterEach(async () => {
    for (const child of children.splice(0)) {
      child.child.kill('SIGKILL');
      await child.exited;
    }
    await Promise.all(inProcess.splice(0).map((p) => p.close()));
  });

  afterAll(async () => {
    await harness?.close();
  });

  async function spawn(overrides: Record<string, string>) {
    const child = await spawnProcessor(harness.processEnv(overrides));
    children.push(child);
    return child;
  }

  async function startRescuer() {
    const processor = await startProcessor(harness.configWith({ PROCESSING_DURATION_MS: '100' }));
    inProcess.push(processor);
    return processor;
  }

  const processingCount = async () => (await harness.countByStatus()).processing ?? 0;

  it('loses nothing when a processor is killed with SIGKILL mid-task: another one finishes its tasks', async () => {
    const victim = await spawn({ PROCESSING_DURATION_MS: '600000' });
    const tasks = await Promise.all([1, 2, 3].map((i) => harness.createTask(`killed ${i}`)));
    await waitFor(processingCount, (n) => n === tasks.length, { description: 'all tasks processing in the victim' });

    victim.child.kill('SIGKILL');
    expect(await victim.exited).toBe('SIGKILL');
    await startRescuer();

    await waitFor(() => harness.countByStatus(), (c) => c.completed === tasks.length, { description: 'all completed by the rescuer' });
    for (const task of tasks) {
      expect((await harness.transitions(task.id)).map((t) => `${t.to_status}/${t.attempt}`)).toEqual([
        'pending/0',
        'processing/1',
        'processing/2',
        'completed/2',
      ]);
    }
  });

  it('on SIGTERM lets in-flight tasks finish within the grace and leaves no task processing', async () => {
    const processor = await spawn({ PROCESSING_DURATION_MS: '800', PROCESSOR_SHUTDOWN_GRACE_MS: '5000' });
    const tasks = await Promise.all([1, 2, 3, 4].map((i) => harness.createTask(`sigterm ${i}`)));
    await waitFor(processingCount, (n) => n === tasks.length, { description: 'all tasks processing' });

    processor.child.kill('SIGTERM');
    expect(await processor.exited).toBe(0);
    expect(await Promise.all(tasks.map((t) => harness.statusOf(t.id)))).toEqual(tasks.map(() => 'completed'));
    expect(await processingCount()).toBe(0);
    expect(await harness.readyMessages()).toBe(0);
  });

  it('on SIGTERM returns tasks that outlast the grace to the queue, where another processor finishes them', async () => {
    const processor = await spawn({ PROCESSING_DURATION_MS: '600000', PROCESSOR_SHUTDOWN_GRACE_MS: '200' });
    const task = await harness.createTask('outlasts the grace');
    await waitFor(() => harness.statusOf(task.id), (s) => s === 'processing');

    processor.child.kill('SIGTERM');
    expect(await processor.exited).toBe(0);
    expect(processor.logs.some((l) => String(l.msg).includes('shutdown grace ran out'))).toBe(true);
    expect(await harness.readyMessages()).toBe(1);

    await startRescuer();
    await waitFor(() => harness.statusOf(task.id), (s) => s === 'completed', { description: 'finished by another processor' });
  });

  it('exits at once on a second signal; the broker redelivers what it held', async () => {
    const processor = await spawn({ PROCESSING_DURATION_MS: '600000', PROCESSOR_SHUTDOWN_GRACE_MS: '600000' });
    const task = await harness.createTask('second signal');
    await waitFor(() => harness.statusOf(task.id), (s) => s === 'processing');

    processor.child.kill('SIGTERM');
    await processor.waitForLog('graceful shutdown requested');
    processor.child.kill('SIGTERM');
    expect(await processor.exited).toBe(1);
    expect(processor.logs.some((l) => String(l.msg).includes('forced exit'))).toBe(true);

    await startRescuer();
    await waitFor(() => harness.statusOf(task.id), (s) => s === 'completed', { description: 'finished by another processor' });
  });
});
