import { DomainError, UnavailableError } from '../errors.js';

// SQLSTATE classes that mean "the database cannot serve us right now", as
// opposed to a bug in a statement: connection exceptions, insufficient
// resources, operator intervention (shutdown, restart, and 57014, a statement
// canceled by statement_timeout).
const UNAVAILABLE_SQLSTATE_CLASSES = ['08', '53', '57'];
// A transaction ended by idle_in_transaction_session_timeout, and a lock
// wait the server gave up on (lock_timeout): no bug, the database was too
// slow or unreachable for our bounds.
const UNAVAILABLE_SQLSTATES = new Set(['25P03', '55P03']);
// ...except a protocol violation, which is a statement the server refused
// (e.g. a NUL byte in text), not an outage.
const NOT_UNAVAILABLE_SQLSTATES = new Set(['08P01']);
const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);

// "Transaction query already complete": knex ends a transaction whose
// connection broke (e.g. BEGIN on a pooled connection the server killed
// while restarting) and then refuses its remaining statements with this
// message, losing the original error. Nothing was committed.
const DRIVER_OUTAGE_MESSAGES =
  /Timeout acquiring a connection|Connection terminated|connection timeout|timeout expired|Query read timeout|Client has encountered a connection error|terminating connection|Transaction query already complete|Connection ended unexpectedly/i;

/** True when the error says the database is unreachable or going away. */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (UNAVAILABLE_NODE_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code)) return true;
      if (code.length === 5 && UNAVAILABLE_SQLSTATE_CLASSES.includes(code.slice(0, 2)) && !NOT_UNAVAILABLE_SQLSTATES.has(code)) return true;
    }
    const message = e.message;
    // The knex pool's acquire timeout (KnexTimeoutError) and node-postgres'
    // own bounds: "timeout expired" (connect), "Query read timeout" (no
    // answer to a statement) — the database did not answer within our bounds.
    if (e.name === 'KnexTimeoutError') return true;
    if (DRIVER_OUTAGE_MESSAGES.test(message)) return true;
  }
  return false;
}

/** Domain errors pass through; outages become UnavailableError with the original as cause. */
export function translateDatabaseError(error: unknown): unknown {
  if (error instanceof DomainError) return error;
  if (isDatabaseUnavailable(error)) return new UnavailableError('the database is unavailable', { cause: error });
  return error;
}
