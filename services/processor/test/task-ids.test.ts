import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskStatus } from '@taskproc/contract';
import { encodeTaskMessage } from '@taskproc/core';
import { startProcessor, type Processor } from '../src/processor.js';
import { createHarness, type Harness } from './support/harness.js';
import { waitFor } from '../../../test/support/wait-for.js';

// Task ids are case-insensitive UUIDs: a message or a request may carry upper
// case. The processor normalises the id of each message where it decodes it,
// so the work it holds is found by the cancel notice (PostgreSQL's lower-case
// text of the uuid).
describe('a task whose message carries its id in upper case', () => {
  let harness: Harness;
  let processor: Processor;
  let api: Awaited<ReturnType<Harness['startApi']>>;

  beforeAll(async () => {
    // Work that outlasts the test, so only a cancel can end it.
    harness = await createHarness('processor_task_ids', { PROCESSING_DURATION_MS: '600000' });
    processor = await startProcessor(harness.config);
    api = await harness.startApi();
  });

  afterAll(async () => {
    await api?.close();
    await processor?.close();
    await harness?.close();
  });

  it('is claimed, and a cancel by its upper-case id aborts the work', async () => {
    const task = await harness.store.createWithOutboxEntry('upper-case id');
    const upper = task.id.toUpperCase();
    const aborted: { taskId: string; reason: string }[] = [];
    const settled: { taskId: string | null; outcome: string }[] = [];
    processor.events.on('aborted', ({ taskId, reason }) => aborted.push({ taskId, reason }));
    // The task-api's relay publishes the task's own (lower-case) message too: a duplicate, acknowledged as such.
    processor.events.on('settled', ({ taskId, outcome }) => outcome !== 'duplicate' && settled.push({ taskId, outcome }));
    const claimed = new Promise<string>((resolve) => processor.events.on('claimed', ({ taskId }) => resolve(taskId)));

    await harness.publish(encodeTaskMessage(upper), { messageId: upper });
    const claimedId = await claimed;
    expect(await harness.statusOf(task.id)).toBe('processing');

    const { task: canceled } = await api.client.cancelTask({ taskId: upper });
    expect(canceled!.status).toBe(TaskStatus.CANCELED);
    await waitFor(() => settled, (s) => s.length > 0, { timeoutMs: 15_000, description: 'the message settled after the cancel' });
    expect(claimedId).toBe(task.id);
    expect(aborted).toEqual([{ taskId: task.id, reason: 'canceled' }]);
    expect(settled).toEqual([{ taskId: task.id, outcome: 'canceled' }]);
    // The relay's lower-case copy may still be settling as a duplicate.
    await waitFor(() => processor.stats().inFlight, (n) => n === 0, { description: 'no message in flight' });
    expect(await harness.statusOf(task.id)).toBe('canceled');
  });
});
