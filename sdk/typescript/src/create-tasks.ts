import { timestampFromDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import { Code, type CallOptions, type Client } from '@connectrpc/connect';
import type { TaskService, Task } from '@taskproc/contract';
import { TaskClientError, toTaskClientError } from './errors.js';

// Creates that can be retried safely (AIP-4235): every logical create gets a
// fresh request_id, and every retry of it sends the same one, so a create
// whose answer was lost (a cut connection, a deadline) is never made twice;
// the service answers the retry with the task the first attempt created.

/** Most items one BatchCreateTasks call takes; createTasks splits longer lists. */
export const MAX_BATCH_ITEMS = 1_000;

export interface CreateTaskOptions {
  /** Idempotency key (1 to 128 of [A-Za-z0-9._:-]); default a fresh UUID per create. */
  requestId?: string;
  /** The task is not claimed before this time (a past time means now; at most 366 days ahead). */
  scheduleTime?: Date | Timestamp;
}

export interface CreateItem extends CreateTaskOptions {
  content: string;
}

export interface RetryOptions {
  /** Calls in all, the first included (default 4). */
  attempts?: number;
  /** Backoff before the first retry, doubled each time up to maxBackoffMs (default 200 ms), with jitter. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Options of every call (deadline, headers, signal). */
  callOptions?: CallOptions;
}

/**
 * Codes after which the create may or may not have happened: a retry with
 * the same key settles it. CANCELED too unless the caller aborted: Node's
 * HTTP/2 client reports a connection cut mid-call as a stream CANCEL.
 */
const RETRIED_CODES: ReadonlySet<Code> = new Set([Code.Unavailable, Code.DeadlineExceeded, Code.Canceled]);

/** A fresh idempotency key: a random (version 4) UUID. */
export function newRequestId(): string {
  // randomUUID exists only in secure contexts in browsers (https, localhost).
  if (typeof globalThis.crypto.randomUUID === 'function') return globalThis.crypto.randomUUID();
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Creates one task, retrying UNAVAILABLE and DEADLINE_EXCEEDED with the same request_id. */
export async function createTaskWithRetry(
  client: Pick<Client<typeof TaskService>, 'createTask'>,
  content: string,
  options: CreateTaskOptions & RetryOptions = {},
): Promise<Task> {
  const request = toRequest({ content, ...options });
  const { task } = await withRetry(options, () => client.createTask(request, options.callOptions));
  return task!;
}

/**
 * Creates many tasks, in order: up to 1,000 per BatchCreateTasks call (each
 * call all or nothing), each item with its own request_id (fresh unless
 * given), each call retried like createTaskWithRetry. Items are strings
 * (the content) or CreateItems.
 */
export async function createTasksWithRetry(
  client: Pick<Client<typeof TaskService>, 'batchCreateTasks'>,
  items: readonly (string | CreateItem)[],
  options: RetryOptions = {},
): Promise<Task[]> {
  const requests = items.map((item) => toRequest(typeof item === 'string' ? { content: item } : item));
  const tasks: Task[] = [];
  for (let start = 0; start < requests.length || start === 0; start += MAX_BATCH_ITEMS) {
    const chunk = requests.slice(start, start + MAX_BATCH_ITEMS);
    const answer = await withRetry(options, () => client.batchCreateTasks({ requests: chunk }, options.callOptions));
    tasks.push(...answer.tasks);
  }
  return tasks;
}

function toRequest(item: CreateItem): { content: string; requestId: string; scheduleTime?: Timestamp } {
  const scheduleTime = item.scheduleTime instanceof Date ? timestampFromDate(item.scheduleTime) : item.scheduleTime;
  return { content: item.content, requestId: item.requestId ?? newRequestId(), ...(scheduleTime ? { scheduleTime } : {}) };
}

async function withRetry<T>(options: RetryOptions, call: () => Promise<T>): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? 4);
  let backoff = options.initialBackoffMs ?? 200;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      const failure = toTaskClientError(error);
      if (attempt >= attempts || !RETRIED_CODES.has(failure.code) || options.callOptions?.signal?.aborted) throw failure;
      await pause(backoff * (0.5 + Math.random() / 2), options.callOptions?.signal);
      backoff = Math.min(backoff * 2, options.maxBackoffMs ?? 2_000);
    }
  }
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(new TaskClientError('create canceled', Code.Canceled, { cause: signal.reason }));
      },
      { once: true },
    );
  });
}
