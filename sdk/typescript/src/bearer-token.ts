import type { Interceptor } from '@connectrpc/connect';

/**
 * A bearer token (a JWT) for a task-api with authentication on: the token
 * itself, or a function that gives the current one. The function runs
 * before every call, streams included, so a caller can hand out a fresh
 * token before the old one expires (cache it: it is called per call).
 */
export type TokenSource = string | (() => string | Promise<string>);

/**
 * Sends `authorization: Bearer <token>` with every call. An empty token
 * sends nothing, so a client configured from an unset variable still works
 * against a task-api with authentication off.
 */
export function bearerTokenInterceptor(source: TokenSource): Interceptor {
  return (next) => async (request) => {
    // Trimmed: a token read from a file or `$(...)` may end in a newline,
    // which is not allowed in a header value.
    const token = (typeof source === 'string' ? source : await source()).trim();
    if (token !== '') request.header.set('authorization', `Bearer ${token}`);
    return next(request);
  };
}

/** The client's interceptors: the bearer token first (when there is one), then the caller's own. */
export function withBearerToken(token: TokenSource | undefined, interceptors: Interceptor[] = []): Interceptor[] {
  return token === undefined ? interceptors : [bearerTokenInterceptor(token), ...interceptors];
}
