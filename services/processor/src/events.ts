import { EventEmitter } from 'node:events';

/** Why a task's work (or its wait for the database) stopped before it finished. */
export type AbortReason =
  /** The task was canceled: a committed cancel was announced by PostgreSQL. */
  | 'canceled'
  /** The broker channel died; the message is back in the queue and no ack can reach the broker. */
  | 'channel-lost'
  /** The shutdown grace ran out; the message goes back to the queue. */
  | 'shutdown';

/** How the processor disposed of one message. */
export type Outcome =
  | 'completed'
  /** The attempt failed and another is due: the task is pending again, queued for after the backoff. */
  | 'retry-scheduled'
  /** The last attempt failed, or the crash-loop cap was reached: the task is failed. */
  | 'failed'
  | 'canceled'
  | 'duplicate'
  | 'dead-lettered'
  | 'returned';

/**
 * What a processor reports as it works, for tests, the fault suite and
 * metrics. `at` is `performance.now()` in this process, so a test running the
 * processor in-process can measure latencies against its own clock.
 */
export interface ProcessorEventMap {
  claimed: [{ taskId: string; attempt: number }];
  aborted: [{ taskId: string; reason: AbortReason; at: number }];
  settled: [{ taskId: string | null; outcome: Outcome; acked: boolean }];
  'broker-connected': [];
  'broker-disconnected': [];
  'listener-connected': [];
}

export class ProcessorEvents extends EventEmitter<ProcessorEventMap> {}
