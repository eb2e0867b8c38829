import { Code, ConnectError } from '@connectrpc/connect';

/**
 * Every failed call of a TaskClient throws a TaskClientError, or one of the
 * subclasses below for the codes the TaskService documents. `code` is the
 * gRPC/Connect code; `message` is the server's message without the code
 * prefix; `cause` is the original ConnectError (with metadata and details).
 */
export class TaskClientError extends Error {
  override name = 'TaskClientError';
  readonly code: Code;

  constructor(message: string, code: Code, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  /** The code's name as gRPC spells it, e.g. "NOT_FOUND". */
  get codeName(): string {
    return grpcCodeName(this.code);
  }
}

/** INVALID_ARGUMENT: the content is empty or too long, or the id is not a UUID. */
export class InvalidTaskError extends TaskClientError {
  override name = 'InvalidTaskError';
}

/** NOT_FOUND: no task has this id. */
export class TaskNotFoundError extends TaskClientError {
  override name = 'TaskNotFoundError';
}

/** FAILED_PRECONDITION: the task's status does not allow the call (cancel of a final task, retry of one not failed; the message names the status). */
export class TaskFinalError extends TaskClientError {
  override name = 'TaskFinalError';
}

/** ALREADY_EXISTS: the request_id was used, within its lifetime, by a create with other content. */
export class RequestIdConflictError extends TaskClientError {
  override name = 'RequestIdConflictError';
}

/** UNAVAILABLE: the service, or its database or broker, cannot be reached. Retrying later may help. */
export class ServiceUnavailableError extends TaskClientError {
  override name = 'ServiceUnavailableError';
}

/**
 * UNAUTHENTICATED: the task-api has authentication on and the call carried
 * no token, or one it does not accept (expired, wrongly signed, another
 * audience, ...; the message says which). A new token may help, a retry
 * with the same one does not.
 */
export class UnauthenticatedError extends TaskClientError {
  override name = 'UnauthenticatedError';
}

/**
 * RESOURCE_EXHAUSTED: the caller's tenant spent its request budget, has
 * too many watch streams open, or the service has too many creates
 * waiting. Retry later: after `retryAfterSeconds` when the service said.
 */
export class ResourceExhaustedError extends TaskClientError {
  override name = 'ResourceExhaustedError';

  /** The service's `retry-after` (whole seconds), when it sent one. */
  get retryAfterSeconds(): number | undefined {
    return retryAfterSeconds(this.cause);
  }
}

const ERROR_CLASSES: Partial<Record<Code, typeof TaskClientError>> = {
  [Code.InvalidArgument]: InvalidTaskError,
  [Code.NotFound]: TaskNotFoundError,
  [Code.FailedPrecondition]: TaskFinalError,
  [Code.Unavailable]: ServiceUnavailableError,
  [Code.AlreadyExists]: RequestIdConflictError,
  [Code.Unauthenticated]: UnauthenticatedError,
  [Code.ResourceExhausted]: ResourceExhaustedError,
};

/** Turns anything a Connect client throws into the matching TaskClientError. */
export function toTaskClientError(error: unknown): TaskClientError {
  if (error instanceof TaskClientError) return error;
  const connectError = ConnectError.from(error);
  const ErrorClass = ERROR_CLASSES[connectError.code] ?? TaskClientError;
  return new ErrorClass(connectError.rawMessage, connectError.code, { cause: connectError });
}

/**
 * The `retry-after` of a failed call's metadata (response headers or
 * trailers, whichever carried it), in whole seconds; undefined when absent
 * or not a number of seconds (an HTTP date is not sent by taskproc).
 */
export function retryAfterSeconds(error: unknown): number | undefined {
  if (!(error instanceof ConnectError)) return undefined;
  const value = error.metadata.get('retry-after')?.trim();
  return value !== undefined && /^\d{1,9}$/.test(value) ? Number(value) : undefined;
}

/** "NOT_FOUND" for Code.NotFound: the names gRPC tools and other SDKs print. */
export function grpcCodeName(code: Code): string {
  return (Code[code] ?? 'UNKNOWN').replace(/(?<=[a-z])(?=[A-Z])/g, '_').toUpperCase();
}
