import type { TaskHandler } from './types.js';

/**
 * Types a handler without changing it, so the module's default export is
 * checked against what the processor calls:
 *
 *   export default defineHandler(async (task, { signal }) => { ... });
 */
export function defineHandler(handler: TaskHandler): TaskHandler {
  return handler;
}
