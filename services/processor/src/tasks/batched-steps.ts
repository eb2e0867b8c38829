import { Coalescer, UnavailableError, type Claim, type TaskFailureStore, type TaskStore } from '@taskproc/core';
import { statementsInFlight } from './step-concurrency.js';

/** The database steps of one message, as the task runner calls them. */
export type TaskSteps = Pick<TaskStore, 'claim' | 'completeIfHeld' | 'exists'> & Pick<TaskFailureStore, 'retryLaterIfHeld' | 'failIfHeld'>;

export interface BatchSettings {
  /** Most claims (or completions) one statement carries. */
  maxBatch: number;
  /** Statements of each kind running at once at most; steps arriving meanwhile share the next. */
  maxInFlight: number;
  /**
   * Deliveries in hand from which only one statement of a kind runs at a
   * time, unless a full one waits (see step-concurrency.ts); with `inHand`.
   */
  deepAt: number;
  /** Deliveries the processor holds now (received, not yet settled). */
  inHand: () => number;
}

/**
 * The runner's steps with claims and completions coalesced: the messages a
 * prefetch hands over together are claimed by one guarded UPDATE (`... WHERE
 * id = ANY(...) AND status = 'pending' RETURNING ...`), and the tasks that
 * finish together are completed by one (guarded by each task's attempt).
 * Each step still answers for its own task only, after the statement has
 * committed, so the runner acks no message before the database holds its
 * outcome. A lone step runs as the single-row statement it always was, and
 * goes out at once; how many statements run at once depends on the load.
 */
export function batchedSteps(store: TaskStore, failures: TaskFailureStore, settings: BatchSettings): TaskSteps {
  // An outage concerns every step in the batch: each one's caller retries it
  // (untilRecorded). Other errors are retried one by one to find their owner.
  const options = {
    maxBatch: settings.maxBatch,
    maxInFlight: settings.maxInFlight,
    inFlightNow: (waiting: number) => statementsInFlight(settings.inHand(), waiting, settings),
    failsEveryone: (error: unknown) => error instanceof UnavailableError,
  };
  // First deliveries and redeliveries take different guards, so they batch apart.
  const claims = new Coalescer((ids: string[]) => store.claimMany(ids, { reclaim: false }), options);
  const reclaims = new Coalescer((ids: string[]) => store.claimMany(ids, { reclaim: true }), options);
  const completions = new Coalescer((items: { id: string; attempt: number }[]) => store.completeManyIfHeld(items), options);
  return {
    claim: (id: string, { reclaim }: { reclaim: boolean }): Promise<Claim | null> => (reclaim ? reclaims : claims).submit(id),
    completeIfHeld: (id: string, attempt: number) => completions.submit({ id, attempt }),
    exists: (id: string) => store.exists(id),
    // Failed attempts are the exception, not the flow: one statement each.
    retryLaterIfHeld: (...args) => failures.retryLaterIfHeld(...args),
    failIfHeld: (...args) => failures.failIfHeld(...args),
  };
}
