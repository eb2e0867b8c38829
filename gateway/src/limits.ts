// The limits gateway/envoy.yaml sets, for the embedded gateway. The envoy.yaml
// test checks that both gateways use the same numbers.

/** A REST request body over this is refused with 413 (Lua filter and transcoder max_request_body_size). */
export const MAX_REQUEST_BODY_BYTES = 1_048_576;

/** Time a REST request may take end to end before it is answered 504 (the route timeout). */
export const REQUEST_TIMEOUT_MS = 15_000;
