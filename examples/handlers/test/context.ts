import type { HandlerLogger, TaskContext, HandlerTask } from '@taskproc/handler';

/** A task as the processor hands it to a handler. */
export function task(content: string): HandlerTask {
  return { id: '0193f1f2-7c1e-7a55-9a0e-3f2b1c4d5e6f', content, createdAt: '2026-12-01T08:00:00.000000Z' };
}

/** A context of one attempt; `lines` collects what the handler logged. */
export function context(overrides: Partial<TaskContext> = {}): TaskContext & { lines: unknown[][] } {
  const lines: unknown[][] = [];
  const log = (...args: unknown[]) => void lines.push(args);
  const logger: HandlerLogger = { trace: log, debug: log, info: log, warn: log, error: log };
  return { signal: new AbortController().signal, attempt: 1, failedAttempts: 0, maxAttempts: 3, logger, lines, ...overrides };
}
