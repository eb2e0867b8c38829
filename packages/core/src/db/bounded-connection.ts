/**
 * Bounds on every wait a pooled PostgreSQL connection can impose, so that a
 * database that stops answering (a broken network, a failed-over host: no
 * RST, packets simply vanish) costs a caller seconds, never forever.
 */
export interface DatabaseTimeouts {
  /** Opening a connection (TCP, TLS, authentication). */
  connectMs: number;
  /** Waiting for a free pooled connection, including opening one. */
  acquireMs: number;
  /**
   * One statement. PostgreSQL cancels it after this (statement_timeout) and
   * the client gives up on an answer shortly after (the server may be
   * unreachable, so its cancel never arrives). 0: no bound (migrations).
   */
  statementMs: number;
  /** A transaction left idle between statements (idle_in_transaction_session_timeout). 0: no bound. */
  idleInTransactionMs: number;
}

/** How much longer than the server's statement_timeout the client waits for its answer. */
const CLIENT_MARGIN_MS = 1_000;
/** Idle time before TCP keepalive probes start on a pooled connection. */
const KEEPALIVE_IDLE_MS = 10_000;

type Callback = (error: Error | null, result?: unknown) => void;
interface PgClient {
  query: (...args: unknown[]) => unknown;
  connection: { stream: { destroy(): void } };
}

/**
 * The node-postgres settings and the pool hook that enforce `timeouts`.
 *
 * node-postgres answers a client-side query timeout ("Query read timeout")
 * but keeps the connection, whose socket still waits on the lost answer, and
 * knex would hand that connection to the next caller. The hook destroys the
 * socket instead: knex sees the connection end and drops it from the pool.
 */
export function boundedConnection(timeouts: DatabaseTimeouts) {
  const connection: Record<string, unknown> = {
    connectionTimeoutMillis: timeouts.connectMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_IDLE_MS,
  };
  if (timeouts.statementMs > 0) {
    connection.statement_timeout = timeouts.statementMs;
    connection.query_timeout = timeouts.statementMs + CLIENT_MARGIN_MS;
  }
  if (timeouts.idleInTransactionMs > 0) connection.idle_in_transaction_session_timeout = timeouts.idleInTransactionMs;

  const afterCreate = (client: PgClient, done: (error: Error | null, client: PgClient) => void) => {
    const query = client.query.bind(client);
    client.query = (...args: unknown[]) => {
      const last = args.length - 1;
      const callback = args[last];
      if (typeof callback === 'function') {
        args[last] = ((error, result) => {
          if (error && isClientQueryTimeout(error)) client.connection.stream.destroy();
          (callback as Callback)(error, result);
        }) satisfies Callback;
      }
      return query(...args);
    };
    done(null, client);
  };
  return { connection, afterCreate };
}

export function isClientQueryTimeout(error: unknown): boolean {
  return error instanceof Error && error.message === 'Query read timeout';
}
