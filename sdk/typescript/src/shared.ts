// What both entries (Node.js and web) export.
export { TaskService, TaskStatus, type Task } from '@taskproc/contract';
export { Code } from '@connectrpc/connect';
export {
  TRANSPORT_NAMES,
  createTaskClientFromTransport,
  isTransportName,
  type TaskClient,
  type TransportName,
} from './client.js';
export {
  MAX_BATCH_ITEMS,
  createTaskWithRetry,
  createTasksWithRetry,
  newRequestId,
  type CreateItem,
  type CreateTaskOptions,
  type RetryOptions,
} from './create-tasks.js';
export {
  InvalidTaskError,
  RequestIdConflictError,
  ResourceExhaustedError,
  ServiceUnavailableError,
  TaskClientError,
  TaskFinalError,
  TaskNotFoundError,
  UnauthenticatedError,
  grpcCodeName,
  retryAfterSeconds,
  toTaskClientError,
} from './errors.js';
export { bearerTokenInterceptor, type TokenSource } from './bearer-token.js';
export {
  FINAL_STATUSES,
  formatTimestamp,
  isFinal,
  parseStatus,
  statusName,
  toTaskJson,
  type TaskJson,
  type TaskStatusName,
} from './task-json.js';
export { WaitTimeoutError, waitForStatus, type WaitForStatusOptions } from './wait-for-status.js';
export { listAllTasks, listTasks, type ListTasksOptions } from './list-tasks.js';
export { watchTask, type WatchTaskOptions } from './watch-task.js';
