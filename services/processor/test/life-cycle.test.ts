import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import { TaskStatus } from '@taskproc/contract';
import { DEFAULT_TENANT, encodeTaskMessage } from '@taskproc/core';
import { startProcessor, type Processor } from '../src/processor.js';
import type { ProcessorEventMap } from '../src/events.js';
import { createHarness, type Harness } from './support/harness.js';
import { waitFor } from '../../../test/support/wait-for.js';

type Settled = ProcessorEventMap['settled'][0];

const micros = (t: Timestamp): bigint => t.seconds * 1_000_000n + BigInt(Math.floor(t.nanos / 1000));

describe('processor life cycle', () => {
  let harness: Harness;
  let processor: Processor;
  const settled: Settled[] = [];

  beforeAll(async () => {
    harness = await createHarness('processor_life_cycle');
    processor = await startProcessor(harness.config);
    processor.events.on('settled', (event) => settled.push(event));
  });

  afterAll(async () => {
    await processor?.close();
    await harness?.close();
  });

  const settlementsOf = (taskId: string) => settled.filter((s) => s.taskId === taskId);

  it('moves a task pending -> processing -> completed, observed through the API, updated_at moving at each change', async () => {
    const api = await harness.startApi();
    try {
      const { task: created } = await api.client.createTask({ content: 'life cycle' });
      const taskId = created!.id;
      expect(created!.status).toBe(TaskStatus.PENDING);
      expect(created!.updatedAt).toBeUndefined();

      const get = async () => (await api.client.getTask({ taskId })).task!;
      const processing = await waitFor(get, (t) => t.status === TaskStatus.PROCESSING, { description: 'processing' });
      expect(micros(processing.updatedAt!)).toBeGreaterThan(micros(created!.createdAt!));

      const completed = await waitFor(get, (t) => t.status === TaskStatus.COMPLETED, { description: 'completed' });
      expect(micros(completed.updatedAt!)).toBeGreaterThan(micros(processing.updatedAt!));
      // The work took PROCESSING_DURATION_MS between the two changes.
      const workedMicros = micros(completed.updatedAt!) - micros(processing.updatedAt!);
      expect(workedMicros).toBeGreaterThanOrEqual(BigInt(harness.config.processingDurationMs) * 1000n);

      expect(await harness.transitions(taskId)).toEqual([
        { from_status: null, to_status: 'pending', attempt: 0 },
        { from_status: 'pending', to_status: 'processing', attempt: 1 },
        { from_status: 'processing', to_status: 'completed', attempt: 1 },
      ]);
      await waitFor(() => settlementsOf(taskId), (s) => s.length === 1);
      expect(settlementsOf(taskId)).toEqual([{ taskId, outcome: 'completed', acked: true }]);
    } finally {
      await api.close();
    }
  });

  it('never processes a task canceled while pending', async () => {
    const task = await harness.store.createWithOutboxEntry('canceled early');
    await harness.store.cancelIfNotFinal(DEFAULT_TENANT, task.id);
    await harness.publish(encodeTaskMessage(task.id), { messageId: task.id });

    await waitFor(() => settlementsOf(task.id), (s) => s.length === 1, { description: 'the message settled' });
    expect(settlementsOf(task.id)).toEqual([{ taskId: task.id, outcome: 'duplicate', acked: true }]);
    expect(await harness.transitions(task.id)).toEqual([
      { from_status: null, to_status: 'pending', attempt: 0 },
      { from_status: 'pending', to_status: 'canceled', attempt: 0 },
    ]);
  });

  it('aborts the work of a task canceled while processing, and the task stays canceled', async () => {
    const slow = await startProcessor(harness.configWith({ PROCESSING_DURATION_MS: '60000' }));
    try {
      // Stop the fast processor from taking this task: the slow one must hold it.
      await processor.close();
      const aborted: ProcessorEventMap['aborted'][0][] = [];
      slow.events.on('aborted', (event) => aborted.push(event));
      const slowSettled: Settled[] = [];
      slow.events.on('settled', (event) => slowSettled.push(event));

      const task = await harness.createTask('canceled while processing');
      await waitFor(() => harness.statusOf(task.id), (s) => s === 'processing');
      await harness.store.cancelIfNotFinal(DEFAULT_TENANT, task.id);

      await waitFor(() => slowSettled, (s) => s.some((e) => e.taskId === task.id), { timeoutMs: 2_000, description: 'the aborted task to settle' });
      expect(aborted).toEqual([expect.objectContaining({ taskId: task.id, reason: 'canceled' })]);
      expect(slowSettled).toEqual([{ taskId: task.id, outcome: 'canceled', acked: true }]);
      expect(await harness.statusOf(task.id)).toBe('canceled');
      expect((await harness.transitions(task.id)).map((t) => t.to_status)).toEqual(['pending', 'processing', 'canceled']);
    } finally {
      await slow.close();
      processor = await startProcessor(harness.config);
      processor.events.on('settled', (event) => settled.push(event));
    }
  });

  it('handles the same message delivered twice as one life cycle', async () => {
    const task = await harness.createTask('delivered twice');
    await harness.publish(encodeTaskMessage(task.id), { messageId: task.id });

    await waitFor(() => settlementsOf(task.id), (s) => s.length === 2, { description: 'both copies settled' });
    expect(settlementsOf(task.id).map((s) => s.outcome).sort()).toEqual(['completed', 'duplicate']);
    expect(settlementsOf(task.id).every((s) => s.acked)).toBe(true);
    expect((await harness.transitions(task.id)).map((t) => t.to_status)).toEqual(['pending', 'processing', 'completed']);
    expect(await harness.readyMessages()).toBe(0);
    expect(await harness.drainDeadLetters()).toEqual([]);
  });
});

describe('processor prefetch', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await createHarness('processor_prefetch', { PROCESSOR_PREFETCH: '3' });
  });

  afterAll(async () => {
    await harness?.close();
  });

  it('never has more than PROCESSOR_PREFETCH tasks processing at once', async () => {
    const processor = await startProcessor(harness.config);
    try {
      let peakProcessing = 0;
      const tasks = await Promise.all(Array.from({ length: 12 }, (_, i) => harness.createTask(`prefetch ${i}`)));
      await waitFor(
        async () => {
          const counts = await harness.countByStatus();
          peakProcessing = Math.max(peakProcessing, counts.processing ?? 0);
          return counts;
        },
        (counts) => counts.completed === tasks.length,
        { timeoutMs: 15_000, intervalMs: 10, description: 'every task completed' },
      );
      expect(peakProcessing).toBeGreaterThan(0);
      expect(peakProcessing).toBeLessThanOrEqual(3);
      // The bound is reached, not just respected: the processor works in parallel.
      expect(processor.stats().peakInFlight).toBe(3);
    } finally {
      await processor.close();
    }
  });
});
