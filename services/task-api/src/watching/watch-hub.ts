import { UnavailableError, sleep, type Logger, type TaskChange, type TaskChangeNotice, type TaskChangeReader } from '@taskproc/core';
import { TaskChangeListener } from './task-change-listener.js';
import { WatchSubscription, type WatchTarget } from './watch-subscription.js';

/**
 * How long after its trigger ran a change may still commit. A catch-up after
 * a reconnect re-reads every change recorded since the connection was last
 * known alive, minus this margin: status changes are single statements or
 * short transactions, far below it.
 */
const COMMIT_MARGIN_MS = 60_000;
/** Changes read per statement in a catch-up, and notices per fetch. */
const READ_BATCH = 1_000;
const READ_ATTEMPTS = 3;
/**
 * Watchers given a change in one turn of the event loop. Each push starts
 * that stream's message on its way through the RPC framework (tens of µs
 * of CPU each, mostly connect's per-message pipeline), and HTTP/2
 * frames leave only when the turn ends: pushed all at once, a thousand
 * watchers' messages would all wait for the last one. In slices, the first
 * slice is on the wire after a few milliseconds while the next is built,
 * and other work (new notices, other calls) gets a turn in between.
 */
const FAN_OUT_SLICE = 64;

export interface WatchHubSettings {
  databaseUrl: string;
  maxStreams: number;
  streamBufferMessages: number;
}

export interface WatchHubStats {
  /** Open subscriptions (one per watch stream). */
  streams: number;
  /** Changes queued for watchers, over all streams. */
  buffered: number;
  /** Watchers cut off for falling behind, since start. */
  cutOff: number;
  /** Times the listening connection came back and changes were re-read. */
  catchUps: number;
  listening: boolean;
}

/** The process is at its WATCH_MAX_STREAMS. */
export class TooManyWatchersError extends Error {}

type Work = { kind: 'notice'; notice: TaskChangeNotice } | { kind: 'catch-up'; downForMs: number };

/**
 * Fans the database's change notices out to every watcher in this process:
 * one LISTEN connection whatever the number of watchers. Notices are handled
 * one batch at a time, in arrival (commit) order: the changes a batch names
 * are read in one statement, for the tasks someone watches, and pushed to
 * each interested subscription. A watcher sees the tasks of its own tenant
 * only: a notice names the task's tenant, and each change read is given to
 * the watchers of the tenant its task row names. After the listening
 * connection comes back, a catch-up re-reads what changed while it was away
 * before any newer notice is handled.
 */
export class WatchHub {
  private readonly byTask = new Map<string, Set<WatchSubscription>>();
  private readonly allTasks = new Set<WatchSubscription>();
  private readonly work: Work[] = [];
  private draining = false;
  /** Transition ids pushed to all-task watchers recently, with when: a catch-up skips them. */
  private readonly recentlyPushed = new Map<number, number>();
  private readonly listener: TaskChangeListener;
  private closed = false;
  private cutOff = 0;
  private catchUps = 0;
  private subscriptions = 0;
  private readonly currentReads: { tenant: string; taskId: string; resolve: (change: TaskChange | null) => void; reject: (error: unknown) => void }[] = [];
  private isReady = false;
  private markReady!: () => void;
  private readonly ready = new Promise<void>((resolve) => (this.markReady = () => ((this.isReady = true), resolve())));

  constructor(
    private readonly reader: TaskChangeReader,
    private readonly settings: WatchHubSettings,
    private readonly logger: Logger,
  ) {
    this.listener = new TaskChangeListener(
      settings.databaseUrl,
      {
        onNotice: (notice) => this.enqueue({ kind: 'notice', notice }),
        onListening: (reconnect) => {
          this.markReady();
          if (reconnect) this.enqueue({ kind: 'catch-up', downForMs: reconnect.downForMs });
        },
      },
      logger,
    );
  }

  start(): void {
    this.listener.start();
  }

  /** Ends every subscription with UNAVAILABLE (watch again elsewhere) and closes the listening connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const subscription of this.everySubscription()) {
      subscription.fail(new UnavailableError('the service is shutting down; watch again'));
    }
    await this.listener.close();
  }

  stats(): WatchHubStats {
    let buffered = 0;
    for (const subscription of this.everySubscription()) buffered += subscription.buffered;
    return { streams: this.subscriptions, buffered, cutOff: this.cutOff, catchUps: this.catchUps, listening: this.listener.listening };
  }

  /**
   * A subscription for one watch stream; release() it when the stream ends.
   * Waits (up to `readyTimeoutMs`) for the first LISTEN, so no change made
   * after the caller's first read can slip by. Throws TooManyWatchersError at
   * the process limit, UnavailableError when closed or not listening in time.
   */
  async subscribe(target: WatchTarget, readyTimeoutMs = 5_000): Promise<WatchSubscription> {
    if (this.closed) throw new UnavailableError('the service is shutting down; watch again');
    if (this.subscriptions >= this.settings.maxStreams) {
      throw new TooManyWatchersError(`this server already serves ${this.settings.maxStreams} watch streams; try again later`);
    }
    this.subscriptions += 1;
    if (!this.isReady) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.ready, new Promise<void>((resolve) => (timer = setTimeout(resolve, readyTimeoutMs)))]);
      clearTimeout(timer);
      if (!this.isReady) {
        this.subscriptions -= 1;
        throw new UnavailableError('watching is unavailable: the database cannot be reached');
      }
    }
    const subscription = new WatchSubscription(target, this.settings.streamBufferMessages, (cut) => this.onOverflow(cut));
    if ('taskId' in target) {
      let set = this.byTask.get(target.taskId);
      if (!set) this.byTask.set(target.taskId, (set = new Set()));
      set.add(subscription);
    } else {
      this.allTasks.add(subscription);
    }
    if (this.closed) subscription.fail(new UnavailableError('the service is shutting down; watch again'));
    return subscription;
  }

  /**
   * The task of `tenant` as it is now (null when that tenant has none with
   * this id), for a subscription made before this call. Reads asked for in
   * the same turn of the event loop share one statement, which starts after
   * all of them subscribed: a thousand watchers arriving at once cost one
   * read, and none of them can miss a change between its subscription and
   * its read.
   */
  current(tenant: string, taskId: string): Promise<TaskChange | null> {
    return new Promise((resolve, reject) => {
      this.currentReads.push({ tenant, taskId, resolve, reject });
      if (this.currentReads.length === 1) setImmediate(() => void this.readCurrent());
    });
  }

  private async readCurrent(): Promise<void> {
    const reads = this.currentReads.splice(0);
    try {
      const wanted = new Map(reads.map(({ tenant, taskId }) => [`${tenant}/${taskId}`, { tenant, id: taskId }]));
      const found = await this.reader.currentMany([...wanted.values()]);
      for (const read of reads) {
        const change = found.get(read.taskId);
        // The statement found each task within the tenant that asked; two
        // tenants asking for one id share a statement, not an answer.
        read.resolve(change && change.task.tenant === read.tenant ? change : null);
      }
    } catch (error) {
      for (const read of reads) read.reject(error);
    }
  }

  release(subscription: WatchSubscription): void {
    subscription.release();
    const removed = this.remove(subscription);
    if (removed) this.subscriptions -= 1;
  }

  private remove(subscription: WatchSubscription): boolean {
    const { target } = subscription;
    if (!('taskId' in target)) return this.allTasks.delete(subscription);
    const set = this.byTask.get(target.taskId);
    const removed = set?.delete(subscription) ?? false;
    if (set?.size === 0) this.byTask.delete(target.taskId);
    return removed;
  }

  private onOverflow(subscription: WatchSubscription): void {
    this.cutOff += 1;
    this.logger.warn(
      { target: subscription.target, capacity: this.settings.streamBufferMessages, cutOff: this.cutOff },
      'watcher cut off: it left too many changes unread',
    );
  }

  private *everySubscription(): Iterable<WatchSubscription> {
    yield* this.allTasks;
    for (const set of this.byTask.values()) yield* set;
  }

  private enqueue(item: Work): void {
    if (this.closed) return;
    this.work.push(item);
    if (!this.draining) void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.work.length > 0 && !this.closed) {
        const first = this.work[0]!;
        if (first.kind === 'catch-up') {
          this.work.shift();
          await this.catchUp(first.downForMs);
          continue;
        }
        let end = 0;
        while (end < this.work.length && end < READ_BATCH && this.work[end]!.kind === 'notice') end += 1;
        const notices = this.work.splice(0, end).map((item) => (item as { notice: TaskChangeNotice }).notice);
        await this.handleNotices(notices);
      }
    } catch (error) {
      this.logger.error({ err: error }, 'watch fan-out failed');
    } finally {
      this.draining = false;
    }
  }

  /** Whether a watcher of this process wants the change a notice names. */
  private interested({ tenant, id, status }: TaskChangeNotice): boolean {
    const taskId = id.toLowerCase();
    for (const subscription of this.byTask.get(taskId) ?? []) if (subscription.wants(tenant, taskId, status)) return true;
    for (const subscription of this.allTasks) if (subscription.wants(tenant, taskId, status)) return true;
    return false;
  }

  private async handleNotices(notices: TaskChangeNotice[]): Promise<void> {
    const wanted = notices.filter((notice) => this.interested(notice));
    if (wanted.length === 0) return;
    let changes: TaskChange[];
    try {
      changes = await this.read(() => this.reader.byTransitionIds(wanted.map((notice) => notice.transition)));
    } catch (error) {
      this.failInterested(wanted, error);
      return;
    }
    const byTransition = new Map(changes.map((change) => [change.transition, change]));
    // In notice order: commit order, also across tasks.
    for (const notice of wanted) {
      const change = byTransition.get(notice.transition);
      if (change) await this.push(change);
    }
    this.forgetOldPushes();
  }

  private async catchUp(downForMs: number): Promise<void> {
    if (this.byTask.size === 0 && this.allTasks.size === 0) return;
    this.catchUps += 1;
    try {
      let after = await this.read(() => this.reader.transitionIdOlderThan(downForMs + COMMIT_MARGIN_MS));
      let read = 0;
      for (;;) {
        // Every task of the tenants someone watches all of, and the tasks watched one by one.
        const tenants = [...new Set([...this.allTasks].map((subscription) => subscription.target.tenant))];
        const scope = { tenants, taskIds: [...this.byTask.keys()] };
        if (scope.tenants.length === 0 && scope.taskIds.length === 0) break;
        const changes = await this.read(() => this.reader.after(after, READ_BATCH, scope));
        for (const change of changes) {
          if (!this.recentlyPushed.has(change.transition)) await this.push(change);
        }
        read += changes.length;
        if (changes.length < READ_BATCH) break;
        after = changes.at(-1)!.transition;
      }
      this.logger.info({ downForMs: Math.round(downForMs), changesRead: read }, 'watch catch-up after reconnect');
    } catch (error) {
      // Without the catch-up a watcher could miss a change: end every stream
      // instead (its client watches again and starts from the task as it is).
      this.logger.warn({ err: error }, 'watch catch-up failed; ending every watch stream');
      for (const subscription of this.everySubscription()) {
        subscription.fail(new UnavailableError('changes could not be read after a database reconnect; watch again'));
      }
    }
  }

  /**
   * Gives a change to the watchers that want it: of its task's tenant (as
   * its row says) only. Resolves once every one of them has it, in slices
   * of FAN_OUT_SLICE watchers per turn of the event loop; changes are given
   * one after another (the drain awaits this), so each watcher still gets
   * them in order. A WatchTask that subscribes meanwhile reads the task as
   * it is, which already shows this change; a WatchTasks that subscribes
   * meanwhile follows from the next one.
   */
  private async push(change: TaskChange): Promise<void> {
    const { id, tenant, status } = change.task;
    const recipients: WatchSubscription[] = [];
    for (const subscription of this.byTask.get(id) ?? []) if (subscription.wants(tenant, id, status)) recipients.push(subscription);
    const toTask = recipients.length;
    for (const subscription of this.allTasks) if (subscription.wants(tenant, id, status)) recipients.push(subscription);
    if (recipients.length > toTask) this.recentlyPushed.set(change.transition, performance.now());
    for (let start = 0; start < recipients.length; start += FAN_OUT_SLICE) {
      if (start > 0) await nextTurn();
      const end = Math.min(start + FAN_OUT_SLICE, recipients.length);
      for (let i = start; i < end; i++) recipients[i]!.push(change);
    }
  }

  private forgetOldPushes(): void {
    // Only while listening: during an outage the catch-up still needs them.
    const horizon = performance.now() - COMMIT_MARGIN_MS - 10_000;
    for (const [transition, at] of this.recentlyPushed) {
      if (at >= horizon) break; // insertion order is push order
      this.recentlyPushed.delete(transition);
    }
  }

  private failInterested(notices: TaskChangeNotice[], error: unknown): void {
    this.logger.warn({ err: error, notices: notices.length }, 'task changes could not be read; ending the streams that needed them');
    const failure = new UnavailableError('a change could not be read; watch again');
    for (const { tenant, id, status } of notices) {
      const taskId = id.toLowerCase();
      for (const subscription of this.byTask.get(taskId) ?? []) if (subscription.wants(tenant, taskId, status)) subscription.fail(failure);
      for (const subscription of this.allTasks) if (subscription.wants(tenant, taskId, status)) subscription.fail(failure);
    }
  }

  private async read<T>(statement: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await statement();
      } catch (error) {
        if (attempt >= READ_ATTEMPTS || this.closed) throw error;
        await sleep(100 * 2 ** attempt);
      }
    }
  }
}

/** Resolves in a later turn of the event loop, after pending I/O (HTTP/2 writes included) has gone out. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
