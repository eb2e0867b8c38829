import { setTimeout as delay } from 'node:timers/promises';
import type { Answer, GrpcTaskClient, RestTaskClient } from './clients.js';

export type Via = 'grpc' | 'rest';

export interface Submission {
  content: string;
  via: Via;
  /** Date.now() when the request was sent and answered. */
  sentAt: number;
  answeredAt: number;
  answer: Answer;
}

export interface CancelRecord {
  taskId: string;
  via: Via;
  sentAt: number;
  answeredAt: number;
  answer: Answer;
}

/**
 * Everything the clients were told. The checker holds the final state
 * against it: an acknowledged task must exist and be final, an acknowledged
 * cancel must never be followed by completed.
 */
export class LoadRecord {
  readonly submissions: Submission[] = [];
  readonly cancels: CancelRecord[] = [];

  /** Tasks answered 201/OK, by id. */
  acknowledged(): Map<string, Submission> {
    const ids = new Map<string, Submission>();
    for (const s of this.submissions) if (s.answer.ok && s.answer.taskId) ids.set(s.answer.taskId, s);
    return ids;
  }

  /** Successes that carried no task id: the client cannot know what it created. */
  acknowledgedWithoutId(): number {
    return this.submissions.filter((s) => s.answer.ok && !s.answer.taskId).length;
  }

  /** Count of answers by kind, e.g. {"grpc OK": 590, "grpc UNAVAILABLE": 10}. */
  answerHistogram(): Record<string, number> {
    const histogram: Record<string, number> = {};
    for (const r of [...this.submissions.map((s) => ({ ...s, what: 'create' })), ...this.cancels.map((c) => ({ ...c, what: 'cancel' }))]) {
      const key = `${r.what}/${r.via} ${r.answer.answer}`;
      histogram[key] = (histogram[key] ?? 0) + 1;
    }
    return histogram;
  }

  /** Requests a server answered with 500/INTERNAL/UNKNOWN. */
  serverErrors(): number {
    return [...this.submissions, ...this.cancels].filter((r) => r.answer.serverError).length;
  }

  /** Requests that ran into their deadline (DEADLINE_EXCEEDED, 504, no answer in time). */
  pastDeadline(): number {
    return [...this.submissions, ...this.cancels].filter((r) => r.answer.deadlineHit).length;
  }
}

export interface Clients {
  grpc: GrpcTaskClient;
  rest: RestTaskClient | null;
}

export interface LoadOptions {
  /** Tasks to submit. */
  count: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** Submissions per second at most (spreads the load over the fault window); unlimited when absent. */
  ratePerSecond?: number;
  /** Which client sends task i (default: every fourth over REST when a gateway runs). */
  via?: (i: number) => Via;
  /** Content of task i; the default names the scenario so rows can be told apart. */
  content?: (i: number) => string;
  /** Called once per acknowledged task (e.g. to schedule its cancel). */
  onAcknowledged?: (taskId: string, submission: Submission) => void;
  /** Stops submitting early (the bounded count is an upper limit). */
  signal?: AbortSignal;
}

/**
 * Submits a bounded number of tasks with bounded concurrency (and optionally
 * a bounded rate), recording every answer in `record`.
 */
export async function submitLoad(clients: Clients, record: LoadRecord, label: string, options: LoadOptions): Promise<void> {
  const via = options.via ?? ((i: number) => (clients.rest && i % 4 === 3 ? 'rest' : 'grpc'));
  const content = options.content ?? ((i: number) => `faults ${label} task ${i}`);
  const started = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < options.count && !options.signal?.aborted) {
      const i = next++;
      if (options.ratePerSecond) {
        const due = started + (i * 1000) / options.ratePerSecond;
        if (due > Date.now()) await delay(due - Date.now());
      }
      const channel = via(i);
      const text = content(i);
      const sentAt = Date.now();
      const answer = channel === 'rest' && clients.rest ? await clients.rest.create(text) : await clients.grpc.create(text);
      const submission: Submission = { content: text, via: channel, sentAt, answeredAt: Date.now(), answer };
      record.submissions.push(submission);
      if (answer.ok && answer.taskId) options.onAcknowledged?.(answer.taskId, submission);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
}

/** Cancels one task and records the answer. */
export async function cancelTask(clients: Clients, record: LoadRecord, taskId: string, via: Via): Promise<CancelRecord> {
  const sentAt = Date.now();
  const answer = via === 'rest' && clients.rest ? await clients.rest.cancel(taskId) : await clients.grpc.cancel(taskId);
  const entry: CancelRecord = { taskId, via, sentAt, answeredAt: Date.now(), answer };
  record.cancels.push(entry);
  return entry;
}
