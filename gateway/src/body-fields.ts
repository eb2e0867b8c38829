import { scanJson } from './json-scan.js';
import type { RestResponse } from './rest-shape.js';

// Unknown fields in a REST body are refused with 400 naming the field: the
// same rule, case for case, as rest_shape.check_body_fields in
// gateway/lua/rest_shape.lua. Envoy's transcoder drops unknown body fields
// silently (envoyproxy/envoy#46623), so the rule runs before it, on the
// routes that take a body. The field names (proto and JSON names) are
// checked against proto/ by gateway/test/rest-shape.test.ts.

const CREATE_TASK_FIELDS = ['content', 'request_id', 'requestId', 'schedule_time', 'scheduleTime'];

/** Per route: the body's fields, and for list fields of messages, their items' fields. */
export const BODY_FIELDS: Readonly<Record<string, { fields: readonly string[]; lists: Readonly<Record<string, readonly string[]>> }>> = {
  'POST /task': { fields: CREATE_TASK_FIELDS, lists: {} },
  'POST /tasks:batchCreate': { fields: ['requests'], lists: { requests: CREATE_TASK_FIELDS } },
};

/** Undefined, or the 400 to answer when the body names a field its request message does not have. */
export function checkBodyFields(request: { method: string; path: string; body: string }): RestResponse | undefined {
  const rule = BODY_FIELDS[`${request.method} ${request.path.split('?')[0]}`];
  if (!rule) return undefined;
  const root = scanJson(request.body);
  // Not a JSON object: the transcoder refuses it.
  if (root?.kind !== 'object') return undefined;
  for (const member of root.members) {
    if (!rule.fields.includes(member.key)) return unknownField(member.key);
    const itemFields = rule.lists[member.key];
    if (!itemFields || member.value.kind !== 'array') continue;
    for (const [index, item] of member.value.items.entries()) {
      if (item.kind !== 'object') continue;
      const unknown = item.members.find((field) => !itemFields.includes(field.key));
      if (unknown) return unknownField(`${member.key}[${index}].${unknown.key}`);
    }
  }
  return undefined;
}

function unknownField(name: string): RestResponse {
  // Only a plain name is echoed, so the message needs no escaping.
  const message = /^[A-Za-z0-9_[\].]+$/.test(name) ? `unknown field \\"${name}\\" in the request body` : 'unknown field in the request body';
  return { status: 400, contentType: 'application/json', body: `{"code":3,"message":"${message}","details":[]}` };
}
