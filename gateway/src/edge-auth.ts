import { MAX_TOKEN_BYTES } from './limits.js';
import type { RestResponse } from './rest-shape.js';

// Authentication and limits as the REST edge speaks them: the same rule as
// rest_shape.check_request (its token part) and rest_shape.error_headers in
// gateway/lua/rest_shape.lua; both run against
// gateway/test/fixtures/rest-shape-cases.json. The gateways never verify a
// token: task-api does (and Envoy's jwt_authn before it). A token is only
// measured here and passed on, and never logged.

/** The realm of every WWW-Authenticate challenge (RFC 6750). */
export const AUTH_REALM = 'taskproc';

const BEARER_SCHEME = 'Bearer ';

/** The challenge of a 401 answer; error="invalid_token" when the request carried credentials. */
export function bearerChallenge(hadCredentials: boolean): string {
  return `Bearer realm="${AUTH_REALM}"${hadCredentials ? ', error="invalid_token"' : ''}`;
}

/** An Authorization header too long to hold a token of MAX_TOKEN_BYTES after its scheme (task-api's bound too). */
export function isOversizedAuthorization(authorization: string | undefined): boolean {
  return authorization !== undefined && authorization.length > MAX_TOKEN_BYTES + BEARER_SCHEME.length;
}

/** The message of the 401 for a token over MAX_TOKEN_BYTES. */
export const TOKEN_TOO_LARGE = `token too large (more than ${MAX_TOKEN_BYTES} bytes)`;

/** Request phase: the 401 for an oversized token, or undefined to go on. */
export function checkAuthorization(authorization: string | undefined): RestResponse | undefined {
  if (!isOversizedAuthorization(authorization)) return undefined;
  return {
    status: 401,
    contentType: 'application/json',
    body: `{"code":16,"message":"${TOKEN_TOO_LARGE}","details":[]}`,
    headers: { 'www-authenticate': bearerChallenge(true) },
  };
}

/**
 * The headers an error answer carries beside its Status body: a 401 its
 * WWW-Authenticate challenge, a 429 its Retry-After (task-api's
 * `retry-after` metadata when it is a whole number of seconds, else 1).
 */
export function errorHeaders(status: number, context: { hadCredentials: boolean; retryAfter: string | undefined }): Record<string, string> {
  if (status === 401) return { 'www-authenticate': bearerChallenge(context.hadCredentials) };
  if (status === 429) return { 'retry-after': wholeSeconds(context.retryAfter) ?? '1' };
  return {};
}

function wholeSeconds(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed !== undefined && /^\d{1,10}$/.test(trimmed) && Number(trimmed) >= 1 ? String(Number(trimmed)) : undefined;
}
