/**
 * How many claim (or completion) statements a processor keeps in flight at
 * once: the rule that lets batches grow only while the queue is deep.
 *
 * A statement's fixed cost (parse, plan, commit and its WAL flush, waking
 * the listeners) is about six claimed rows' worth in PostgreSQL, so under
 * load fewer, larger statements leave more of the machine for the work; but
 * a step that waits for a running statement adds that statement's time to
 * its task's latency. The rule:
 *
 * - nothing in flight: a step goes out at once (in the Coalescer), so an
 *   idle processor adds no wait;
 * - the processor holds few deliveries (fewer than `deepAt`): up to
 *   `maxInFlight` statements, each step sent as soon as a slot is free, as
 *   before. The broker has nothing more for us, so waiting would only add
 *   latency;
 * - it holds `deepAt` or more (its prefetch is nearly full, so more
 *   deliveries wait in the broker and a few milliseconds more per step
 *   change nothing a client sees): one statement at a time, so the steps
 *   arriving meanwhile leave together in the next, unless at least a full
 *   statement's worth (`maxBatch`) waits already, which is worth a second
 *   one at once (a drain's wave of claims, chunked by maxBatch).
 */
export interface StepConcurrencySettings {
  /** Most steps one statement carries. */
  maxBatch: number;
  /** Statements of one kind in flight at most. */
  maxInFlight: number;
  /** Deliveries in hand from which the processor counts as loaded. */
  deepAt: number;
}

/** Statements allowed in flight now, given the deliveries in hand and the steps waiting for a statement. */
export function statementsInFlight(inHand: number, waiting: number, settings: StepConcurrencySettings): number {
  if (inHand < settings.deepAt) return settings.maxInFlight;
  return waiting >= settings.maxBatch ? settings.maxInFlight : 1;
}

/**
 * Loaded from half the prefetch on: in a steady flow the deliveries between
 * an ack and the broker's next message keep the count a little under the
 * prefetch, never near half of it, and a processor keeping up holds a few.
 */
export function deepAtFor(prefetch: number): number {
  return Math.max(1, Math.ceil(prefetch / 2));
}
