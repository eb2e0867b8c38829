/**
 * What a taskproc handler is: the default export of the ES module that
 * TASK_HANDLER names, called once per attempt of each task.
 *
 *   import { defineHandler } from '@taskproc/handler';
 *   export default defineHandler(async (task, { signal, logger }) => { ... });
 *
 * Resolving means the attempt succeeded (the task is completed); throwing or
 * rejecting means it failed (the task is tried again after a backoff, and is
 * `failed` after the last attempt, with the error's message). No dependency
 * on the processor: a handler package needs only this one.
 */
export type { HandlerLogger, TaskContext, TaskHandler, HandlerTask } from './types.js';
export { defineHandler } from './define-handler.js';
export { checkpoint, sleep } from './cooperation.js';
