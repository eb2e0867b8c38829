import type { TaskChange, TaskStatusName } from '@taskproc/core';

/**
 * What one watcher follows: one task, or every task (optionally only changes
 * into one status), of its own tenant only.
 */
export type WatchTarget = { tenant: string } & ({ taskId: string } | { status: TaskStatusName | null });

/** Why a subscription ended before its watcher did (shutdown, falling behind, an unreadable change). */
export type WatchFailure = Error;

export const KEEP_ALIVE = Symbol('keep-alive');

/**
 * One watcher's bounded queue of changes. The hub pushes; the stream's
 * handler takes. A watcher that leaves more than `capacity` changes unread
 * is cut off: the queue is dropped at once (memory stays bounded whatever
 * the client does) and the next take throws the failure.
 */
export class WatchSubscription {
  private queue: TaskChange[] = [];
  private failure: WatchFailure | null = null;
  private wake: (() => void) | null = null;
  /** Changes at or below this transition id are already known to the watcher. */
  private seenThrough = 0;
  private cutOffListener: (() => void) | null = null;

  constructor(
    readonly target: WatchTarget,
    private readonly capacity: number,
    private readonly onOverflow: (subscription: WatchSubscription) => void,
  ) {}

  get failed(): boolean {
    return this.failure !== null;
  }

  get buffered(): number {
    return this.queue.length;
  }

  /** Whether this watcher wants a change of this task of `tenant` (before deduplication). */
  wants(tenant: string, taskId: string, status: TaskStatusName): boolean {
    if (this.target.tenant !== tenant) return false;
    if ('taskId' in this.target) return this.target.taskId === taskId;
    return this.target.status === null || this.target.status === status;
  }

  /** The watcher already has the task as of this transition (its first message). */
  skipThrough(transition: number): void {
    this.seenThrough = Math.max(this.seenThrough, transition);
    this.queue = this.queue.filter((change) => change.transition > transition);
  }

  push(change: TaskChange): void {
    if (this.failure) return;
    // Per task, transition ids grow in commit order (each change holds the
    // task's row lock until it commits), so an id at or below the last one
    // seen is a copy (a catch-up after a reconnect, or the first message).
    if ('taskId' in this.target && change.transition <= this.seenThrough) return;
    if (this.queue.length >= this.capacity) {
      this.fail(new Error(`the watcher fell behind: more than ${this.capacity} changes unread; watch again`));
      this.onOverflow(this);
      this.cutOffListener?.();
      return;
    }
    if ('taskId' in this.target) this.seenThrough = change.transition;
    this.queue.push(change);
    this.notify();
  }

  /** Called once if this watcher is cut off for falling behind. */
  onCutOff(listener: () => void): void {
    this.cutOffListener = listener;
  }

  fail(failure: WatchFailure): void {
    if (this.failure) return;
    this.failure = failure;
    this.queue = [];
    this.notify();
  }

  /**
   * The next change; KEEP_ALIVE when none came within `idleMs`. Throws the
   * failure once the subscription failed, or the signal's reason when it aborts.
   */
  async take(idleMs: number, signal: AbortSignal): Promise<TaskChange | typeof KEEP_ALIVE> {
    for (;;) {
      if (this.failure) throw this.failure;
      const next = this.queue.shift();
      if (next) return next;
      signal.throwIfAborted();
      const woke = await new Promise<boolean>((resolve) => {
        const done = (value: boolean) => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          this.wake = null;
          resolve(value);
        };
        const onAbort = () => done(true);
        const timer = setTimeout(() => done(false), idleMs);
        signal.addEventListener('abort', onAbort, { once: true });
        this.wake = () => done(true);
      });
      if (!woke && !this.failure && this.queue.length === 0) return KEEP_ALIVE;
    }
  }

  private notify(): void {
    this.wake?.();
  }
}
