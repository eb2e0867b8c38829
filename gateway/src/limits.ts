// The limits gateway/envoy.yaml sets, for the embedded gateway. The envoy.yaml
// test checks that both gateways use the same numbers.

/** A REST request body over this is refused with 413 (Lua filter and transcoder max_request_body_size). */
export const MAX_REQUEST_BODY_BYTES = 1_048_576;

/** Time a REST request may take end to end before it is answered 504 (the route timeout). */
export const REQUEST_TIMEOUT_MS = 15_000;

/**
 * A bearer token longer than this is answered 401 "token too large" by
 * both gateways (the Lua rule in Envoy) before anything else happens, as
 * task-api answers it: no token is that long, and a header that size is
 * not worth parsing.
 */
export const MAX_TOKEN_BYTES = 8192;

/**
 * All request headers together, at most (Envoy: max_request_headers_kb 60).
 * Larger than Node.js's default of 16 KiB on purpose: a token between
 * MAX_TOKEN_BYTES and this gets the contract's 401, not a bare 431. Past
 * it, the HTTP server answers 431 and closes the connection.
 */
export const MAX_REQUEST_HEADER_BYTES = 60 * 1024;
