// The one home of the task statuses. The database mirrors this list in a
// CHECK constraint and a transition trigger (see db/migrations), and the proto
// enum TaskStatus names the same five values for clients.

export const TASK_STATUSES = ['pending', 'processing', 'completed', 'canceled', 'failed'] as const;
export type TaskStatusName = (typeof TASK_STATUSES)[number];

/**
 * Statuses in which a task rests: completed and canceled for good, failed until
 * a client retries it. A watch ends after one of these.
 */
export const FINAL_STATUSES: readonly TaskStatusName[] = ['completed', 'canceled', 'failed'];

/** Statuses a cancel may start from. */
export const CANCELABLE_STATUSES: readonly TaskStatusName[] = ['pending', 'processing'];
