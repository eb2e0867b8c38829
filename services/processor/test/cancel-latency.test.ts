import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskStatus } from '@taskproc/contract';
import { startProcessor, type Processor } from '../src/processor.js';
import { createHarness, type Harness } from './support/harness.js';
import { waitFor } from '../../../test/support/wait-for.js';

const BATCHES = 5;
const BATCH_SIZE = 20;
const TARGET_P99_MS = 250;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

// Cancel-to-abort latency: from the moment the client has the cancel's
// response to the moment the processor holding the task aborts its work.
describe('cancel of a processing task', () => {
  let harness: Harness;
  let processor: Processor;
  let api: Awaited<ReturnType<Harness['startApi']>>;

  beforeAll(async () => {
    // Work that would outlast the test, so only a cancel can end it.
    harness = await createHarness('processor_cancel_latency', { PROCESSING_DURATION_MS: '600000', PROCESSOR_PREFETCH: String(BATCH_SIZE) });
    processor = await startProcessor(harness.config);
    api = await harness.startApi();
  });

  afterAll(async () => {
    await api?.close();
    await processor?.close();
    await harness?.close();
  });

  it(`aborts the work within ${TARGET_P99_MS} ms at p99 and the task stays canceled`, async () => {
    const abortedAt = new Map<string, number>();
    const claimed = new Set<string>();
    processor.events.on('aborted', ({ taskId, reason, at }) => reason === 'canceled' && abortedAt.set(taskId, at));
    processor.events.on('claimed', ({ taskId }) => claimed.add(taskId));

    const latencies: number[] = [];
    const fromRequest: number[] = [];
    for (let batch = 0; batch < BATCHES; batch++) {
      const ids: string[] = [];
      for (let i = 0; i < BATCH_SIZE; i++) ids.push((await api.client.createTask({ content: `cancel ${batch}.${i}` })).task!.id);
      await waitFor(() => ids.every((id) => claimed.has(id)), Boolean, { description: 'the batch claimed' });

      for (const taskId of ids) {
        const sentAt = performance.now();
        const { task } = await api.client.cancelTask({ taskId });
        const answeredAt = performance.now();
        expect(task!.status).toBe(TaskStatus.CANCELED);
        const at = await waitFor(() => abortedAt.get(taskId), (v) => v !== undefined, { timeoutMs: 2_000, description: `abort of ${taskId}` });
        // The notice can even beat the response (both follow the commit): count that as 0.
        latencies.push(Math.max(0, at! - answeredAt));
        fromRequest.push(at! - sentAt);
      }
      await waitFor(() => processor.stats().inFlight, (n) => n === 0, { description: 'the batch settled' });
    }

    const sorted = [...latencies].sort((a, b) => a - b);
    const p50 = percentile(sorted, 50);
    const p99 = percentile(sorted, 99);
    const requestSorted = [...fromRequest].sort((a, b) => a - b);
    const aheadOfResponse = latencies.filter((ms) => ms === 0).length;
    // The measurement the issue asks for; printed so `make test` shows it.
    process.stdout.write(
      `cancel-to-abort over ${sorted.length} cancels: from the response p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms ` +
        `(${aheadOfResponse} aborts came before the response); from the request p50 ${percentile(requestSorted, 50).toFixed(1)} ms, ` +
        `p99 ${percentile(requestSorted, 99).toFixed(1)} ms, max ${requestSorted.at(-1)!.toFixed(1)} ms\n`,
    );
    expect(p99).toBeLessThan(TARGET_P99_MS);

    expect(await harness.countByStatus()).toEqual({ canceled: BATCHES * BATCH_SIZE });
    const completions = await harness.db.query("select count(*)::int as n from task_transition where to_status = 'completed'");
    expect(completions[0]!.n).toBe(0);
  });
});
