import type { TaskChange, TaskStatusName } from '@taskproc/core';

/**
 * What one watcher follows: one task, or every task (optionally only changes
 * into one status), of its own tenant only.
 */
export type WatchTarget = { tenant: string } & ({ taskId: string } | { status: TaskStatusName | null });

/** Why a subscription ended before its watcher did (shutdown, falling behind, an unreadable change). */
export type WatchFailure = Error;

export const KEEP_ALIVE = Symbol('keep-alive');

type Next = TaskChange | typeof KEEP_ALIVE;

/**
 * One watcher's bounded queue of changes. The hub pushes; the stream's
 * handler takes. A watcher that leaves more than `capacity` changes unread
 * is cut off: the queue is dropped at once (memory stays bounded whatever
 * the client does) and the next take throws the failure.
 *
 * A thousand watchers of one task make every change a thousand pushes and
 * takes, so a take costs one promise and nothing else: a change pushed
 * while the handler waits goes straight to it (no queue), and the stream's
 * abort listener and keep-alive timer are set up once per stream
 * (follow()), not once per change.
 */
export class WatchSubscription {
  private queue: TaskChange[] = [];
  private failure: WatchFailure | null = null;
  private waiter: { resolve: (next: Next) => void; reject: (error: unknown) => void } | null = null;
  /** When the waiting handler began to wait (performance.now()). */
  private waitingSince = 0;
  /** Changes at or below this transition id are already known to the watcher. */
  private seenThrough = 0;
  private cutOffListener: (() => void) | null = null;
  private released = false;
  private stopFollowing: (() => void) | null = null;

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
    if (this.failure || this.released) return;
    // Per task, transition ids grow in commit order (each change holds the
    // task's row lock until it commits), so an id at or below the last one
    // seen is a copy (a catch-up after a reconnect, or the first message).
    if ('taskId' in this.target && change.transition <= this.seenThrough) return;
    if ('taskId' in this.target) this.seenThrough = change.transition;
    const waiter = this.waiter;
    if (waiter) {
      // The queue is empty whenever the handler waits.
      this.waiter = null;
      waiter.resolve(change);
      return;
    }
    if (this.queue.length >= this.capacity) {
      this.fail(new Error(`the watcher fell behind: more than ${this.capacity} changes unread; watch again`));
      this.onOverflow(this);
      this.cutOffListener?.();
      return;
    }
    this.queue.push(change);
  }

  /** Called once if this watcher is cut off for falling behind. */
  onCutOff(listener: () => void): void {
    this.cutOffListener = listener;
  }

  fail(failure: WatchFailure): void {
    if (this.failure) return;
    this.failure = failure;
    this.queue = [];
    this.settleWaiter((waiter) => waiter.reject(failure));
  }

  /**
   * Binds the subscription to its stream, once: a take waiting when `signal`
   * aborts throws its reason, and one that waited `idleMs` with nothing to
   * take gets KEEP_ALIVE. One timer per stream, re-armed only when it
   * fires (at most once per `idleMs`), keeps the per-change path free of
   * timers. Undone by release().
   */
  follow(idleMs: number, signal: AbortSignal): void {
    const onAbort = () => this.settleWaiter((waiter) => waiter.reject(signal.reason));
    let timer: NodeJS.Timeout;
    // Unref'd: an open stream keeps the process alive, its keep-alive timer need not.
    const arm = (ms: number) => (timer = setTimeout(onIdle, Math.max(1, ms)).unref());
    const onIdle = () => {
      const idleFor = performance.now() - this.waitingSince;
      if (this.waiter && idleFor >= idleMs) {
        this.settleWaiter((waiter) => waiter.resolve(KEEP_ALIVE));
        arm(idleMs);
      } else {
        arm(this.waiter ? idleMs - idleFor : idleMs);
      }
    };
    signal.addEventListener('abort', onAbort, { once: true });
    arm(idleMs);
    this.stopFollowing = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
  }

  /**
   * The next queued change, or undefined when none is queued (then wait()).
   * Throws the failure once the subscription failed.
   */
  poll(): TaskChange | undefined {
    if (this.failure) throw this.failure;
    return this.queue.shift();
  }

  /**
   * The next change, for a handler that found none queued; KEEP_ALIVE after
   * the follow()'s idle time with none. Rejects with the failure, or the
   * signal's reason when it aborts.
   */
  wait(signal: AbortSignal): Promise<Next> {
    if (this.failure) return Promise.reject(this.failure);
    if (signal.aborted) return Promise.reject(signal.reason);
    const next = this.queue.shift();
    if (next) return Promise.resolve(next);
    this.waitingSince = performance.now();
    return new Promise<Next>((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** The stream ended: nothing is pushed any more, and its timer and listener go. */
  release(): void {
    this.released = true;
    this.queue = [];
    this.stopFollowing?.();
    this.stopFollowing = null;
  }

  private settleWaiter(settle: (waiter: NonNullable<WatchSubscription['waiter']>) => void): void {
    const waiter = this.waiter;
    if (!waiter) return;
    this.waiter = null;
    settle(waiter);
  }
}
