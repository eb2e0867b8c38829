import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { TaskService } from '@taskproc/contract';
import type { BenchDatabase } from '../lib/bench-database.js';
import { Observer, wallClockMs } from '../lib/observer.js';
import { percentile } from '../lib/stats.js';

// Create options: BatchCreateTasks end to end, and how late
// scheduled tasks are claimed. Processors run with PROCESSING_DURATION_MS=0.

export interface BatchCreateRun {
  batchSize: number;
  tasks: number;
  /** Concurrent BatchCreateTasks callers. */
  concurrency: number;
  /** Tasks answered per second (first call sent to last answer). */
  createPerSecond: number;
  /** Latency of one BatchCreateTasks call, ms. */
  callP50Ms: number;
  callP99Ms: number;
  /** Tasks completed per second, first call sent to last task completed. */
  endToEndPerSecond: number;
}

export interface ScheduledLateness {
  tasks: number;
  /** How far ahead the tasks were scheduled: spread evenly over this window, s. */
  windowSeconds: number;
  /** Claim (pending -> processing, database clock) minus schedule_time, ms. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface CreateOptionsFigures {
  batches: BatchCreateRun[];
  scheduled: ScheduledLateness;
}

export interface CreateOptionsShape {
  /** Tasks per batch size measured. */
  tasks: number;
  batchSizes: number[];
  concurrency: number;
  scheduledTasks: number;
  scheduledWindowSeconds: number;
}

export async function measureCreateOptions(grpcUrl: string, db: BenchDatabase, observer: Observer, shape: CreateOptionsShape): Promise<CreateOptionsFigures> {
  const transport = createGrpcTransport({ baseUrl: grpcUrl, idleConnectionTimeoutMs: 60_000 });
  const client = createClient(TaskService, transport);
  const batches: BatchCreateRun[] = [];
  for (const batchSize of shape.batchSizes) {
    const calls = Math.max(1, Math.ceil(shape.tasks / batchSize));
    const watermark = await observer.watermark();
    const latencies: number[] = [];
    const started = wallClockMs();
    let next = 0;
    const caller = async () => {
      while (next < calls) {
        const call = next++;
        const requests = Array.from({ length: batchSize }, (_, i) => ({ content: `batch ${batchSize} ${call}.${i}` }));
        const sent = wallClockMs();
        await client.batchCreateTasks({ requests }, { timeoutMs: 60_000 });
        latencies.push(wallClockMs() - sent);
      }
    };
    await Promise.all(Array.from({ length: Math.min(shape.concurrency, calls) }, caller));
    const answered = wallClockMs();
    const tasks = calls * batchSize;
    await observer.waitForTransitions(watermark, ['completed'], tasks, 600_000);
    const { lastFinal } = await observer.span(watermark);
    const run: BatchCreateRun = {
      batchSize,
      tasks,
      concurrency: Math.min(shape.concurrency, calls),
      createPerSecond: tasks / ((answered - started) / 1000),
      callP50Ms: percentile(latencies, 50),
      callP99Ms: percentile(latencies, 99),
      endToEndPerSecond: tasks / ((lastFinal - started) / 1000),
    };
    process.stderr.write(
      `  batches of ${batchSize}: create ${Math.round(run.createPerSecond)}/s, call p50 ${Math.round(run.callP50Ms)} ms, end to end ${Math.round(run.endToEndPerSecond)}/s\n`,
    );
    batches.push(run);
  }

  // Scheduled: due times spread over the window, starting a second ahead,
  // created up front in batches; lateness is claim time minus due time.
  const start = Date.now() + 1_000;
  const step = (shape.scheduledWindowSeconds * 1000) / shape.scheduledTasks;
  const ids: string[] = [];
  for (let first = 0; first < shape.scheduledTasks; first += 1_000) {
    const requests = Array.from({ length: Math.min(1_000, shape.scheduledTasks - first) }, (_, i) => ({
      content: `scheduled ${first + i}`,
      scheduleTime: timestampFromMs(Math.round(start + (first + i) * step)),
    }));
    ids.push(...(await client.batchCreateTasks({ requests }, { timeoutMs: 60_000 })).tasks.map((t) => t.id));
  }
  const watermark = await observer.watermark();
  await observer.waitForTransitions(watermark, ['completed'], ids.length, 600_000 + shape.scheduledWindowSeconds * 1000);
  const rows = await db.query<{ late_ms: number }>(
    `select extract(epoch from (min(tt.at) - t.schedule_time)) * 1000 as late_ms
       from task t join task_transition tt on tt.task_id = t.id and tt.to_status = 'processing'
      where t.id = any($1::uuid[]) group by t.id, t.schedule_time`,
    [ids],
  );
  const lateness = rows.map((r) => Number(r.late_ms));
  const scheduled: ScheduledLateness = {
    tasks: ids.length,
    windowSeconds: shape.scheduledWindowSeconds,
    p50Ms: percentile(lateness, 50),
    p99Ms: percentile(lateness, 99),
    maxMs: Math.max(...lateness),
  };
  process.stderr.write(`  scheduled lateness p50 ${Math.round(scheduled.p50Ms)} ms, p99 ${Math.round(scheduled.p99Ms)} ms\n`);
  return { batches, scheduled };
}
