import { Code, ConnectError } from '@connectrpc/connect';
import {
  AlreadyExistsError,
  DomainError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  ResourceExhaustedError,
  UnauthenticatedError,
  UnavailableError,
  translateDatabaseError,
} from '@taskproc/core';

/**
 * The one place where errors become Connect codes. Domain errors keep their
 * message (written for clients); anything else becomes INTERNAL with a
 * generic message, and the original travels as `cause` for the logs only.
 */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  const translated = translateDatabaseError(error);
  if (translated instanceof DomainError) {
    return new ConnectError(translated.message, codeOf(translated), metadataOf(translated), undefined, translated);
  }
  return new ConnectError('internal error', Code.Internal, undefined, undefined, error);
}

function codeOf(error: DomainError): Code {
  if (error instanceof InvalidArgumentError) return Code.InvalidArgument;
  if (error instanceof NotFoundError) return Code.NotFound;
  if (error instanceof FailedPreconditionError) return Code.FailedPrecondition;
  if (error instanceof UnavailableError) return Code.Unavailable;
  if (error instanceof AlreadyExistsError) return Code.AlreadyExists;
  if (error instanceof ResourceExhaustedError) return Code.ResourceExhausted;
  if (error instanceof UnauthenticatedError) return Code.Unauthenticated;
  return Code.Internal;
}

/**
 * Response metadata that goes with the code: when to retry a spent budget
 * (gRPC puts it in the trailers, Connect in the headers; both REST gateways
 * copy it to an HTTP Retry-After header).
 */
function metadataOf(error: DomainError): Record<string, string> | undefined {
  if (error instanceof ResourceExhaustedError && error.retryAfterSeconds !== undefined) {
    return { 'retry-after': String(Math.max(1, Math.ceil(error.retryAfterSeconds))) };
  }
  return undefined;
}
