import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import { UnavailableError } from '@taskproc/core';

/**
 * Bounds every unary request: it is answered by the earlier of the client's
 * own deadline (grpc-timeout, connect-timeout-ms) and `requestTimeoutMs`,
 * whatever its handler is still waiting on.
 *
 * - the server's bound: UNAVAILABLE (a dependency is too slow or unreachable;
 *   the bounds on the pool and statements normally answer first);
 * - the client's deadline: DEADLINE_EXCEEDED; the client went away: CANCELED.
 *
 * The handler sees the combined signal as its context's signal, so work it
 * has not started yet (a queued create) is dropped. Work already sent to the
 * database may still finish: a create answered UNAVAILABLE this way can exist
 * (a client that retries may create it twice). Streams (health Watch) are
 * long-lived by design and not bounded here.
 */
export function requestDeadlineInterceptor(requestTimeoutMs: number): Interceptor {
  return (next) => async (request) => {
    if (request.stream) return next(request);
    const bound = new AbortController();
    const { signal: clientSignal } = request;
    let rejectOnAbort!: (error: unknown) => void;
    const aborted = new Promise<never>((_, reject) => (rejectOnAbort = reject));
    const onClientAbort = () => {
      bound.abort(clientSignal.reason);
      rejectOnAbort(ConnectError.from(clientSignal.reason, Code.Canceled));
    };
    const timer = setTimeout(() => {
      const error = new UnavailableError(`the request could not be completed within ${requestTimeoutMs} ms; a dependency is slow or unreachable`);
      bound.abort(error);
      rejectOnAbort(error);
    }, requestTimeoutMs);
    if (clientSignal.aborted) onClientAbort();
    else clientSignal.addEventListener('abort', onClientAbort, { once: true });
    try {
      return await Promise.race([next({ ...request, signal: bound.signal }), aborted]);
    } finally {
      clearTimeout(timer);
      clientSignal.removeEventListener('abort', onClientAbort);
    }
  };
}
