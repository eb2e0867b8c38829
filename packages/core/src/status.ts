// The one home of the task statuses. The database mirrors this list in a
// CHECK constraint and a transition trigger (see db/migrations), and the proto
// enum TaskStatus names the same four values for clients.

export const TASK_STATUSES = ['pending', 'processing', 'completed', 'canceled'] as const;
export type TaskStatusName = (typeof TASK_STATUSES)[number];

/** Statuses from which a task never moves again. */
export const FINAL_STATUSES: readonly TaskStatusName[] = ['completed', 'canceled'];

/** Statuses a cancel may start from. */
export const CANCELABLE_STATUSES: readonly TaskStatusName[] = ['pending', 'processing'];
