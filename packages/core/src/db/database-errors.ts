import { DomainError, UnavailableError } from '../errors.js';

// SQLSTATE classes that mean "the database cannot serve us right now", as
// opposed to a bug in a statement: connection exceptions, insufficient
// resources, operator intervention (shutdown, restart).
const UNAVAILABLE_SQLSTATE_CLASSES = ['08', '53', '57'];
// ...except a protocol violation, which is a statement the server refused
// (e.g. a NUL byte in text), not an outage.
const NOT_UNAVAILABLE_SQLSTATES = new Set(['08P01']);
const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);

/** True when the error says the database is unreachable or going away. */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (UNAVAILABLE_NODE_CODES.has(code)) return true;
      if (code.length === 5 && UNAVAILABLE_SQLSTATE_CLASSES.includes(code.slice(0, 2)) && !NOT_UNAVAILABLE_SQLSTATES.has(code)) return true;
    }
    const message = e.message;
    // "Transaction query already complete": knex ends a transaction whose
    // connection broke (e.g. BEGIN on a pooled connection the server killed
    // while restarting) and then refuses its remaining statements with this
    // message, losing the original error. Nothing was committed.
    if (
      /Timeout acquiring a connection|Connection terminated|connection timeout|Client has encountered a connection error|terminating connection|Transaction query already complete/i.test(
        message,
      )
    ) {
      return true;
    }
  }
  return false;
}

/** Domain errors pass through; outages become UnavailableError with the original as cause. */
export function translateDatabaseError(error: unknown): unknown {
  if (error instanceof DomainError) return error;
  if (isDatabaseUnavailable(error)) return new UnavailableError('the database is unavailable', { cause: error });
  return error;
}
