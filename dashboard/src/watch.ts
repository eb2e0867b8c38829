import type { Task } from '@taskproc/contract';
import type { TaskClient } from './api.js';
import { describeError } from './api.js';

// Server streams that stay open while the page does: WatchTasks for the
// overview and the list, WatchTask for a task page. A stream that ends or
// fails is opened again after a short backoff; onReconnected lets the caller
// refetch what it may have missed meanwhile.

export type StreamState = { kind: 'connecting' } | { kind: 'live' } | { kind: 'retrying'; reason: string; inMs: number } | { kind: 'ended' };

export interface StreamHandlers {
  onTask(task: Task): void;
  onState?(state: StreamState): void;
  onReconnected?(): void;
}

const BACKOFF_MS = [500, 1_000, 2_000, 5_000, 10_000];

/** Watches every change of status; returns a stop function. */
export function watchAllTasks(client: TaskClient, handlers: StreamHandlers): () => void {
  return keepStreaming((options) => client.watchTasks({}, options), handlers, false);
}

/** Watches one task until its stream ends (a final status); reopens on failure. */
export function watchOneTask(client: TaskClient, taskId: string, handlers: StreamHandlers): () => void {
  return keepStreaming((options) => client.watchTask({ taskId }, options), handlers, true);
}

function keepStreaming(
  open: (options: { signal: AbortSignal; onHeader(): void }) => AsyncIterable<{ task?: Task }>,
  handlers: StreamHandlers,
  endsByItself: boolean,
): () => void {
  const stop = new AbortController();
  void (async () => {
    let failures = 0;
    let connectedBefore = false;
    while (!stop.signal.aborted) {
      handlers.onState?.({ kind: 'connecting' });
      let reason = 'the stream ended';
      try {
        let announced = false;
        // Live once the response headers arrive (the stream is open on the
        // server), or at the first message, whichever comes first.
        const announce = () => {
          if (announced) return;
          announced = true;
          failures = 0;
          handlers.onState?.({ kind: 'live' });
          if (connectedBefore) handlers.onReconnected?.();
          connectedBefore = true;
        };
        const stream = open({ signal: stop.signal, onHeader: announce });
        for await (const message of stream) {
          announce();
          if (message.task) handlers.onTask(message.task);
        }
        if (endsByItself) {
          handlers.onState?.({ kind: 'ended' });
          return;
        }
      } catch (error) {
        if (stop.signal.aborted) return;
        reason = describeError(error);
      }
      const inMs = BACKOFF_MS[Math.min(failures, BACKOFF_MS.length - 1)]!;
      failures += 1;
      handlers.onState?.({ kind: 'retrying', reason, inMs });
      await new Promise((resolve) => setTimeout(resolve, inMs));
    }
  })();
  return () => stop.abort();
}
