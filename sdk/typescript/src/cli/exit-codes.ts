import { Code } from '@connectrpc/connect';

/** taskctl's exit codes; documented in sdk/typescript/README.md and `taskctl --help`. */
export const ExitCode = Object.freeze({
  OK: 0,
  /** INTERNAL, UNKNOWN or any other unexpected failure. */
  ERROR: 1,
  /** Bad command line: unknown command or option, missing argument. */
  USAGE: 2,
  /** NOT_FOUND: no task has this id. */
  NOT_FOUND: 3,
  /** INVALID_ARGUMENT: empty or too long content, or an id that is not a UUID. */
  INVALID: 4,
  /** FAILED_PRECONDITION: cancel of a task that is already final, retry of a task that is not failed. */
  FINAL: 5,
  /** UNAVAILABLE (or DEADLINE_EXCEEDED): task-api, its database or its broker cannot be reached. */
  UNAVAILABLE: 6,
  /** watch --timeout passed before the task reached a final status. */
  TIMEOUT: 7,
  /** ALREADY_EXISTS: create --request-id of a key used with other content. */
  CONFLICT: 8,
  /** UNAUTHENTICATED: authentication is on and no token was sent, or task-api does not accept it (expired, wrongly signed, ...). */
  UNAUTHENTICATED: 9,
  /** RESOURCE_EXHAUSTED: the tenant's request budget is spent (or too many watches, or creates waiting); a second line says when to retry, if task-api said. */
  RESOURCE_EXHAUSTED: 10,
  /** Interrupted (Ctrl-C). */
  INTERRUPTED: 130,
});

export function exitCodeFor(code: Code): number {
  switch (code) {
    case Code.NotFound:
      return ExitCode.NOT_FOUND;
    case Code.InvalidArgument:
      return ExitCode.INVALID;
    case Code.FailedPrecondition:
      return ExitCode.FINAL;
    case Code.Unavailable:
    case Code.DeadlineExceeded:
      return ExitCode.UNAVAILABLE;
    case Code.AlreadyExists:
      return ExitCode.CONFLICT;
    case Code.Unauthenticated:
      return ExitCode.UNAUTHENTICATED;
    case Code.ResourceExhausted:
      return ExitCode.RESOURCE_EXHAUSTED;
    default:
      return ExitCode.ERROR;
  }
}
