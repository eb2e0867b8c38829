import { Code, ConnectError } from '@connectrpc/connect';
import {
  DomainError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  ResourceExhaustedError,
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
    return new ConnectError(translated.message, codeOf(translated), undefined, undefined, translated);
  }
  return new ConnectError('internal error', Code.Internal, undefined, undefined, error);
}

function codeOf(error: DomainError): Code {
  if (error instanceof InvalidArgumentError) return Code.InvalidArgument;
  if (error instanceof NotFoundError) return Code.NotFound;
  if (error instanceof FailedPreconditionError) return Code.FailedPrecondition;
  if (error instanceof UnavailableError) return Code.Unavailable;
  if (error instanceof ResourceExhaustedError) return Code.ResourceExhausted;
  return Code.Internal;
}
