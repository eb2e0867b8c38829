import type { Task } from '@taskproc/contract';
import { LatencyWindow, RateWindow, processingLatencyMs, rateKindOf } from './rates.js';
import type { StreamState } from './watch.js';

// One WatchTasks stream per page, shared: the overview's rates and latency
// and the task list's live rows all hear the same changes.

type Listener<T> = (value: T) => void;

export class LiveHub {
  readonly rates = new RateWindow(300);
  readonly latency = new LatencyWindow(300_000);
  state: StreamState = { kind: 'connecting' };
  private readonly taskListeners = new Set<Listener<Task>>();
  private readonly stateListeners = new Set<Listener<StreamState>>();

  constructor(private readonly now: () => number = Date.now) {}

  push(task: Task): void {
    const at = this.now();
    const kind = rateKindOf(task);
    if (kind) this.rates.record(kind, at);
    const latency = processingLatencyMs(task);
    if (latency !== undefined) this.latency.record(latency, at);
    for (const listener of this.taskListeners) listener(task);
  }

  setState(state: StreamState): void {
    this.state = state;
    for (const listener of this.stateListeners) listener(state);
  }

  onTask(listener: Listener<Task>): () => void {
    this.taskListeners.add(listener);
    return () => this.taskListeners.delete(listener);
  }

  onState(listener: Listener<StreamState>): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }
}
