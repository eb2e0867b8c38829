// Typed domain errors. Services map them to transport codes in exactly one
// place each (task-api: src/error-mapping.ts). The message is safe to show a
// client; anything internal travels as `cause` and only reaches the logs.

export class DomainError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The caller sent something that can never succeed as sent. */
export class InvalidArgumentError extends DomainError {}

/** The task (or other entity) does not exist. */
export class NotFoundError extends DomainError {}

/**
 * The answer for a task the caller cannot see, from every store and
 * handler: one message whether no task has the id or another tenant's task
 * does, so the answer tells nothing about other tenants.
 */
export function taskNotFound(id: string): NotFoundError {
  return new NotFoundError(`task ${id} not found`);
}

/** The request is well formed but the task's current state forbids it. */
export class FailedPreconditionError extends DomainError {}

/** A dependency (database, broker) cannot be reached right now; retrying later may work. */
export class UnavailableError extends DomainError {}

/** The request names something that exists already in another form (an idempotency key used with other content). */
export class AlreadyExistsError extends DomainError {}

/**
 * The service is at a bound it keeps to stay responsive (a full queue, a
 * tenant's spent budget); retrying later may work. `retryAfterSeconds`, when
 * known, tells the client when (the `retry-after` response metadata).
 */
export class ResourceExhaustedError extends DomainError {
  readonly retryAfterSeconds: number | undefined;

  constructor(message: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(message, options);
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

/** The caller did not prove who it is: no credentials, or ones that do not verify. */
export class UnauthenticatedError extends DomainError {}
