import type { ScenarioDatabase } from './database.js';
import type { LoadRecord } from './load.js';

/** One line of the table. Every figure from `lost` on must be 0. */
export interface Figures {
  submitted: number;
  completed: number;
  canceled: number;
  /** Ended `failed`: the work failed on its last attempt, or kept interrupting its processor. */
  failed: number;
  lost: number;
  duplicated: number;
  illegal: number;
  completedAfterCancel: number;
  stuck: number;
  badInput5xx: number;
  /** Valid requests answered 500 / INTERNAL / UNKNOWN. */
  serverErrors: number;
  /** Requests that ran into their deadline instead of getting an answer (DEADLINE_EXCEEDED, 504, none). */
  pastDeadline: number;
}

export interface CheckInput {
  db: ScenarioDatabase;
  record: LoadRecord;
  /** Messages left in the task queue (ready + unacknowledged) after the drain. */
  taskQueueDepth: number;
  /** Messages in the dead-letter queue, and how many the scenario put there on purpose. */
  deadLettered: number;
  expectedDeadLettered?: number;
  badInput5xx?: number;
}

export interface CheckOutput {
  figures: Figures;
  /** Checks beyond the figures that failed (each makes the scenario fail). */
  failures: string[];
  notes: string[];
  /** created_at -> completed, per completed acknowledged task, in ms. */
  latenciesMs: number[];
  /** Completed acknowledged tasks per second, from the first create to the last completion. */
  throughputPerSecond: number;
  /** Tasks in the database the clients were never told about (e.g. the create's answer was lost). */
  unacknowledged: { id: string; content: string; status: string }[];
}

// The contract's diagram, as (from, to) pairs; null is the insert. A re-claim
// (processing -> processing with a new attempt) is not a change of status:
// the trigger logs it so the checker can see take-overs. An attempt that
// failed with another due goes back to pending; the last one ends failed,
// which is final until a client retries it (failed -> pending).
const ALLOWED = new Set([
  'null>pending',
  'pending>processing',
  'pending>canceled',
  'processing>processing',
  'processing>completed',
  'processing>canceled',
  'processing>pending',
  'processing>failed',
  'failed>pending',
]);
const FINAL = new Set(['completed', 'canceled', 'failed']);

interface TaskRow {
  id: string;
  content: string;
  status: string;
  created_at: Date;
}
interface TransitionRow {
  task_id: string;
  from_status: string | null;
  to_status: string;
  at: Date;
}

/**
 * Reads the final state (task, task_transition, outbox) and holds it against
 * what the clients were told. The transition log is written by a trigger in
 * the same transaction as every change, so it is the task's full history.
 */
export async function check(input: CheckInput): Promise<CheckOutput> {
  const { db, record } = input;
  const tasks = await db.query<TaskRow>('select id, content, status, created_at from task');
  const transitions = await db.query<TransitionRow>('select task_id, from_status, to_status, at from task_transition order by id');
  const outbox = new Set((await db.query<{ task_id: string }>('select task_id from outbox')).map((r) => r.task_id));

  const byId = new Map(tasks.map((t) => [t.id, t]));
  const history = new Map<string, TransitionRow[]>();
  for (const t of transitions) {
    const list = history.get(t.task_id) ?? [];
    list.push(t);
    history.set(t.task_id, list);
  }

  const failures: string[] = [];
  const notes: string[] = [];
  const figures: Figures = {
    submitted: 0,
    completed: 0,
    canceled: 0,
    failed: 0,
    lost: 0,
    duplicated: 0,
    illegal: 0,
    completedAfterCancel: 0,
    stuck: 0,
    badInput5xx: input.badInput5xx ?? 0,
    serverErrors: record.serverErrors(),
    pastDeadline: record.pastDeadline(),
  };

  const acknowledged = record.acknowledged();
  figures.submitted = acknowledged.size;
  const somethingLeftToDeliver = (id: string) => outbox.has(id) || input.taskQueueDepth > 0;
  for (const id of acknowledged.keys()) {
    const task = byId.get(id);
    if (!task) figures.lost++;
    else if (task.status === 'completed') figures.completed++;
    else if (task.status === 'canceled') figures.canceled++;
    else if (task.status === 'failed') figures.failed++;
    else if (somethingLeftToDeliver(id)) figures.stuck++;
    else figures.lost++;
  }

  const unacknowledged = tasks.filter((t) => !acknowledged.has(t.id));
  for (const task of unacknowledged) if (!FINAL.has(task.status)) figures.stuck++;
  if (unacknowledged.length > 0) {
    const final = unacknowledged.filter((t) => FINAL.has(t.status)).length;
    notes.push(`${unacknowledged.length} task(s) recorded whose create was never acknowledged; ${final} of them final`);
  }

  for (const task of tasks) {
    const steps = history.get(task.id) ?? [];
    const completions = steps.filter((s) => s.to_status === 'completed').length;
    const cancels = steps.filter((s) => s.to_status === 'canceled').length;
    if (completions > 1 || cancels > 1 || (completions > 0 && cancels > 0)) figures.duplicated++;
    figures.illegal += illegalSteps(task, steps);
  }
  const takeOvers = transitions.filter((t) => t.from_status === 'processing' && t.to_status === 'processing').length;
  if (takeOvers > 0) notes.push(`${takeOvers} re-claim(s): a redelivered task taken over from a holder that lost it`);
  const orphanTransitions = transitions.filter((t) => !byId.has(t.task_id)).length;
  figures.illegal += orphanTransitions;

  let refusedButNotCompleted = 0;
  for (const cancel of record.cancels) {
    // A cancel may name its task in upper case; the database keeps ids in lower case.
    const taskId = cancel.taskId.toLowerCase();
    const task = byId.get(taskId);
    const everCompleted = (history.get(taskId) ?? []).some((s) => s.to_status === 'completed');
    if (cancel.answer.ok) {
      if (!task || task.status !== 'canceled' || everCompleted || cancel.answer.status !== 'canceled') figures.completedAfterCancel++;
    } else if (/FAILED_PRECONDITION|HTTP 400/.test(cancel.answer.answer) && !FINAL.has(task?.status ?? '')) {
      refusedButNotCompleted++;
    }
  }
  if (refusedButNotCompleted > 0) failures.push(`${refusedButNotCompleted} cancel(s) refused as final while the task was not final`);

  if (input.taskQueueDepth > 0) failures.push(`${input.taskQueueDepth} message(s) left in the task queue after the drain`);
  if (outbox.size > 0) failures.push(`${outbox.size} outbox entr(y/ies) never published`);
  const expectedDead = input.expectedDeadLettered ?? 0;
  if (input.deadLettered !== expectedDead) failures.push(`${input.deadLettered} message(s) in the dead-letter queue, expected ${expectedDead}`);
  const withoutId = record.acknowledgedWithoutId();
  if (withoutId > 0) failures.push(`${withoutId} create(s) answered OK without a task id`);

  const latenciesMs: number[] = [];
  let firstCreated = Infinity;
  let lastCompleted = -Infinity;
  for (const id of acknowledged.keys()) {
    const task = byId.get(id);
    const done = (history.get(id) ?? []).find((s) => s.to_status === 'completed');
    if (task && done) {
      latenciesMs.push(done.at.getTime() - task.created_at.getTime());
      firstCreated = Math.min(firstCreated, task.created_at.getTime());
      lastCompleted = Math.max(lastCompleted, done.at.getTime());
    }
  }
  const throughputPerSecond = latenciesMs.length > 1 ? (latenciesMs.length * 1000) / (lastCompleted - firstCreated) : 0;

  return {
    figures,
    failures,
    notes,
    latenciesMs,
    throughputPerSecond,
    unacknowledged: unacknowledged.map((t) => ({ id: t.id, content: t.content, status: t.status })),
  };
}

/** Steps of one task's history outside the diagram, out of sequence, or disagreeing with its row. */
function illegalSteps(task: TaskRow, steps: TransitionRow[]): number {
  let illegal = 0;
  let previous: string | null = null;
  steps.forEach((step, i) => {
    if (!ALLOWED.has(`${step.from_status}>${step.to_status}`)) illegal++;
    else if (i > 0 && step.from_status !== previous) illegal++;
    else if (i === 0 && step.from_status !== null) illegal++;
    previous = step.to_status;
  });
  if (steps.length === 0 || previous !== task.status) illegal++;
  return illegal;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
