import { scanJson } from './json-scan.js';
import type { RestResponse } from './rest-shape.js';

// The Idempotency-Key header of `POST /task`, as request_id: the same rule,
// case for case, as rest_shape.apply_idempotency_key in
// gateway/lua/rest_shape.lua (Envoy), both run against the fixtures'
// "idempotencyKeys" cases. It works on the JSON text before the body is
// transcoded: the key goes in as the first member of the body object, so
// the transcoder (or the embedded gateway's own parser) reads it like any
// other field. Only keys of the contract's alphabet are taken, so the key
// needs no escaping and can never change the body's meaning otherwise.

const KEY_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** The routes whose request_id the header fills. */
const KEYED_ROUTES: ReadonlySet<string> = new Set(['POST /task']);

export const INVALID_KEY_BODY = '{"code":3,"message":"Idempotency-Key must be 1 to 128 characters of [A-Za-z0-9._:-]","details":[]}';
export const DIFFERENT_KEY_BODY = '{"code":3,"message":"Idempotency-Key and request_id differ","details":[]}';

export interface KeyedRequest {
  method: string;
  /** Path with the query string, as received. */
  path: string;
  /** The Idempotency-Key header, if sent. */
  idempotencyKey: string | undefined;
  body: string;
}

/** The body to transcode, or the 400 to answer instead. */
export function applyIdempotencyKey(request: KeyedRequest): { body: string } | { refusal: RestResponse } {
  const { idempotencyKey: key, body } = request;
  if (key === undefined || !KEYED_ROUTES.has(`${request.method} ${request.path.split('?')[0]}`)) return { body };
  if (!KEY_PATTERN.test(key)) return refuse(INVALID_KEY_BODY);
  const root = scanJson(body);
  // Not a JSON object: the transcoder refuses it as it would without the header.
  if (root?.kind !== 'object') return { body };
  const present = root.members.find((member) => member.key === 'request_id' || member.key === 'requestId');
  if (present) {
    return present.value.kind === 'string' && present.value.value === key ? { body } : refuse(DIFFERENT_KEY_BODY);
  }
  const member = `"request_id":"${key}"`;
  const at = root.first + 1;
  return { body: `${body.slice(0, at)}${member}${root.members.length > 0 ? ',' : ''}${body.slice(at)}` };
}

function refuse(body: string): { refusal: RestResponse } {
  return { refusal: { status: 400, contentType: 'application/json', body } };
}
