/** The task an attempt works on. */
export interface HandlerTask {
  /** The task's id (a UUID, lower case). */
  readonly id: string;
  /** What the client sent when it created the task. */
  readonly content: string;
  /** When the task was created, RFC 3339 UTC. */
  readonly createdAt: string;
}

type LogFn = {
  (message: string): void;
  (fields: Record<string, unknown>, message?: string): void;
};

/** A structured logger whose lines already carry the task id and the attempt. */
export interface HandlerLogger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

/** What the processor gives each attempt besides the task. */
export interface TaskContext {
  /**
   * Aborted when the attempt must stop: the task was canceled, the attempt
   * ran past TASK_TIMEOUT_MS, or the processor is shutting down (or lost its
   * broker connection). Stop promptly and reject (for example with
   * `signal.reason`). A handler that ignores it is abandoned: the processor
   * moves on, and whatever the handler does later is ignored.
   */
  readonly signal: AbortSignal;
  /** 1 for the first attempt; counts every attempt, interrupted ones too. */
  readonly attempt: number;
  /** Attempts of this task that failed before this one. */
  readonly failedAttempts: number;
  /** TASK_MAX_ATTEMPTS: after this many failed attempts the task is `failed`. */
  readonly maxAttempts: number;
  /** Lines about this attempt; they carry the task id. */
  readonly logger: HandlerLogger;
}

/**
 * The work for one task: resolve when done, throw or reject to fail the
 * attempt (the error's message, bounded in length, becomes the task's
 * `error` once no attempt is left; the stack goes to the processor's log).
 */
export type TaskHandler = (task: HandlerTask, context: TaskContext) => Promise<void>;
