import { create, fromJson, toBinary, type DescMethod, type DescService } from '@bufbuild/protobuf';
import { CreateTaskRequestSchema, TaskService } from '@taskproc/contract';
import { grpcFrame, h2loadGrpc, wrkPost, type CLoadResult } from '../lib/c-load.js';
import { LEDGER_ROWS, reapedChildrenSource, startLedger, type Ledger, type LedgerSource } from '../lib/cpu-ledger.js';
import type { Observer } from '../lib/observer.js';
import { peakRssMiB, resetPeakRss } from '../lib/process-stats.js';
import { waitUntil, type ServiceProcess } from '../lib/system.js';

// End to end under load from the C load generators (lib/c-load.ts): each run
// waits until no task is pending, drives load, waits until every task it
// created is final, and reads from the database how many tasks were created
// and when the last one completed. The processors work meanwhile
// (PROCESSING_DURATION_MS=0), so a run measures create and completion alike.

export interface CLoadRun {
  tool: CLoadResult['tool'];
  /** Tasks per call (1 for CreateTask, the batch size for BatchCreateTasks). */
  tasksPerCall: number;
  /** Calls answered per second, as the load generator saw them. */
  callsPerSecond: number;
  /** Tasks created per second (calls x tasks per call over the generator's elapsed time). */
  createsPerSecond: number;
  /** Tasks per second from the first call sent to the last task completed. */
  perSecond: number;
  tasks: number;
  /** Latency of a call, as the load generator saw it, ms. */
  callP50Ms: number;
  callP99Ms: number;
  ledger: Ledger;
  peakRssMiB: Record<string, number>;
  summary: string;
}

export interface LedgerContext {
  sources: LedgerSource[];
  services: ServiceProcess[];
}

/** CreateTask over gRPC from h2load: `count` calls, `streams` at a time on one HTTP/2 connection (as the Node.js client). */
export async function measureH2loadCreate(observer: Observer, grpcUrl: string, context: LedgerContext, shape: { count: number; streams: number; runs: number; warmup: number }): Promise<CLoadRun[]> {
  const body = grpcFrame(toBinary(CreateTaskRequestSchema, create(CreateTaskRequestSchema, { content: 'bench h2load task' })));
  const url = `${grpcUrl}/${TaskService.typeName}/${TaskService.method.createTask.name}`;
  const drive = (requests: number) => () => h2loadGrpc({ url, body, requests, streams: shape.streams, connections: 1 });
  if (shape.warmup > 0) await drive(shape.warmup)();
  return repeat(shape.runs, 'h2load gRPC CreateTask', () => measureRun(observer, context, 1, drive(shape.count)));
}

/** POST /task through the embedded gateway from wrk: `connections` keep-alive connections for `seconds`. */
export async function measureWrkCreate(observer: Observer, gatewayUrl: string, context: LedgerContext, shape: { connections: number; seconds: number; runs: number; warmupSeconds: number }): Promise<CLoadRun[]> {
  const drive = (seconds: number) => () => wrkPost({ url: `${gatewayUrl}/task`, body: JSON.stringify({ content: 'bench wrk task' }), connections: shape.connections, seconds });
  if (shape.warmupSeconds > 0) await drive(shape.warmupSeconds)();
  return repeat(shape.runs, 'wrk REST POST /task', () => measureRun(observer, context, 1, drive(shape.seconds)));
}

/**
 * The BatchCreateTasks method when the generated client has it, else null:
 * the bulk and burst scenarios light up by themselves once the RPC exists.
 */
export function batchCreateMethod(service: DescService = TaskService): DescMethod | null {
  return service.methods.find((m) => m.name === 'BatchCreateTasks' && m.methodKind === 'unary') ?? null;
}

/** A BatchCreateTasks request of `size` tasks, from its REST shape ({"requests": [{"content": ...}]}). */
export function batchCreateRequest(method: DescMethod, size: number, content: string): Uint8Array {
  return toBinary(method.input, fromJson(method.input, { requests: Array.from({ length: size }, (_, i) => ({ content: `${content} ${i}` })) }));
}

/**
 * BatchCreateTasks over gRPC from h2load: `count` tasks in batches of
 * `batchSize`. Callers: up to `streams`, but no more than a quarter of the
 * calls, so each sends a few batches and the run is not one wave.
 */
export async function measureH2loadBatch(
  observer: Observer,
  grpcUrl: string,
  context: LedgerContext,
  method: DescMethod,
  shape: { count: number; batchSize: number; streams: number; runs: number },
): Promise<CLoadRun[]> {
  const body = grpcFrame(batchCreateRequest(method, shape.batchSize, 'bench h2load batch task'));
  const calls = Math.max(1, Math.round(shape.count / shape.batchSize));
  const streams = Math.max(1, Math.min(shape.streams, Math.floor(calls / 4)));
  const url = `${grpcUrl}/${TaskService.typeName}/${method.name}`;
  const drive = (requests: number) => () => h2loadGrpc({ url, body, requests, streams, connections: 1 });
  await drive(Math.min(calls, 4))(); // warm-up
  return repeat(shape.runs, `h2load gRPC BatchCreateTasks x ${shape.batchSize}`, () => measureRun(observer, context, shape.batchSize, drive(calls)));
}

async function repeat(runs: number, label: string, measure: () => Promise<CLoadRun>): Promise<CLoadRun[]> {
  const results: CLoadRun[] = [];
  for (let run = 0; run < runs; run++) {
    const result = await measure();
    process.stderr.write(`  ${label} run ${run + 1}: ${Math.round(result.createsPerSecond)} creates/s, ${Math.round(result.perSecond)}/s end to end (${result.tasks} tasks)\n`);
    results.push(result);
  }
  return results;
}

async function measureRun(observer: Observer, context: LedgerContext, tasksPerCall: number, drive: () => Promise<CLoadResult>): Promise<CLoadRun> {
  await observer.waitForIdle(600_000);
  const after = await observer.watermark();
  context.services.forEach((s) => resetPeakRss(s.pid));
  const ledger = await startLedger(context.sources, [reapedChildrenSource(LEDGER_ROWS.cLoad)]);
  let load: CLoadResult;
  try {
    load = await drive();
  } catch (error) {
    await ledger.stop(0); // no sampling left running behind the error
    throw error;
  }
  // Calls the gateway was still forwarding when wrk stopped may create tasks
  // a little later: done when nothing is pending and every task created is completed.
  let created = 0;
  let tasks = 0;
  await waitUntil('every task created to be completed', async () => {
    if (!(await observer.idle())) return false;
    [created, tasks] = [await observer.countCreated(after), await observer.countTransitions(after, ['completed'])];
    return tasks >= created;
  }, 600_000, 100);
  const figures = await ledger.stop(tasks);
  if (load.failed > 0) throw new Error(`${load.tool}: ${load.failed} calls failed\n${load.summary}`);
  // h2load and wrk cannot see a gRPC error in the trailers: every answered call must have left its tasks.
  if (created < load.succeeded * tasksPerCall) throw new Error(`${load.tool}: ${load.succeeded} calls answered but only ${created} tasks created (some calls failed with a gRPC status)`);
  const last = await observer.lastAt(after, 'completed');
  return {
    tool: load.tool,
    tasksPerCall,
    callsPerSecond: (load.succeeded * 1000) / load.elapsedMs,
    createsPerSecond: (load.succeeded * tasksPerCall * 1000) / load.elapsedMs,
    perSecond: (tasks * 1000) / (last - load.startedAt),
    tasks,
    callP50Ms: load.p50Ms,
    callP99Ms: load.p99Ms,
    ledger: figures,
    peakRssMiB: Object.fromEntries(context.services.map((s) => [s.name, peakRssMiB(s.pid)])),
    summary: load.summary,
  };
}
