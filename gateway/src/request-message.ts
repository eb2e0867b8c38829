import {
  create,
  fromJson,
  mergeFromBinary,
  toBinary,
  ScalarType,
  type DescMessage,
  type JsonObject,
  type JsonValue,
  type MessageShape,
  type Registry,
} from '@bufbuild/protobuf';
import type { RestRoute } from './http-rules.js';

// Builds the gRPC request message from a REST request, as the transcoder
// does: the JSON body fills the message (body "*") or one field of it, then
// path variables and query parameters are bound to fields by name.

/** The request cannot be turned into the method's input: the transcoder answers 400. */
export class RequestMappingError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RequestMappingError';
  }
}

export interface RestRequestParts {
  body: string;
  /** Path variables first, then query parameters, in request order. */
  bindings: readonly (readonly [string, string])[];
}

export function buildRequestMessage(route: RestRoute, parts: RestRequestParts, registry: Registry): MessageShape<DescMessage> {
  const schema = route.method.input;
  const message = parseBody(route, parts.body, registry);
  if (parts.bindings.length > 0) {
    // Bindings are merged over the body with protobuf merge semantics (a
    // later scalar wins, lists append), as the transcoder's request weaver
    // appends them to the message it streams upstream.
    const overlay = fromJsonOrFail(schema, bindingsToJson(schema, parts.bindings), registry);
    mergeFromBinary(schema, message, toBinary(schema, overlay));
  }
  return message;
}

function parseBody(route: RestRoute, body: string, registry: Registry): MessageShape<DescMessage> {
  const schema = route.method.input;
  // An absent body is an empty message, as in the transcoder.
  if (body.trim() === '') return create(schema);
  let json: JsonValue;
  try {
    json = JSON.parse(body) as JsonValue;
  } catch (error) {
    throw new RequestMappingError('request body is not JSON', { cause: error });
  }
  // "" and "*" both map the body onto the whole message in the transcoder.
  const whole = route.body === '' || route.body === '*';
  return fromJsonOrFail(schema, whole ? json : nest(route.body.split('.'), json), registry);
}

function fromJsonOrFail(schema: DescMessage, json: JsonValue, registry: Registry): MessageShape<DescMessage> {
  try {
    return fromJson(schema, json, { registry });
  } catch (error) {
    throw new RequestMappingError(`request does not fit ${schema.typeName}`, { cause: error });
  }
}

function nest(path: readonly string[], value: JsonValue): JsonObject {
  const [head, ...rest] = path;
  return { [head!]: rest.length === 0 ? value : nest(rest, value) };
}

/** One JSON object holding every binding, keyed by proto field names. */
function bindingsToJson(schema: DescMessage, bindings: RestRequestParts['bindings']): JsonObject {
  const root: JsonObject = {};
  for (const [path, text] of bindings) {
    let target = root;
    let message: DescMessage = schema;
    const names = path.split('.');
    names.forEach((name, index) => {
      const field = message.fields.find((candidate) => candidate.name === name || candidate.jsonName === name);
      if (!field) throw new RequestMappingError(`"${path}" is not a field of ${schema.typeName}`);
      const isLeaf = index === names.length - 1;
      if (!isLeaf) {
        if (field.fieldKind !== 'message') throw new RequestMappingError(`"${path}" does not name a singular message field`);
        target = (target[field.name] ??= {}) as JsonObject;
        message = field.message;
        return;
      }
      if (field.fieldKind === 'list' && field.listKind !== 'message') {
        const list = (target[field.name] ??= []) as JsonValue[];
        list.push(scalarJson(field.listKind === 'enum' ? 'enum' : field.scalar, text, path));
      } else if (field.fieldKind === 'scalar') {
        target[field.name] = scalarJson(field.scalar, text, path);
      } else if (field.fieldKind === 'enum') {
        target[field.name] = scalarJson('enum', text, path);
      } else {
        throw new RequestMappingError(`"${path}" cannot be bound from a path or query string`);
      }
    });
  }
  return root;
}

/** A path or query string value as protobuf JSON reads it for this field type. */
function scalarJson(type: ScalarType | 'enum', text: string, path: string): JsonValue {
  if (type === 'enum') return /^-?\d+$/.test(text) ? Number(text) : text;
  if (type === ScalarType.BOOL) {
    if (text === 'true' || text === 'false') return text === 'true';
    throw new RequestMappingError(`"${path}" must be true or false`);
  }
  // Protobuf JSON accepts numbers, 64-bit integers and bytes as strings.
  return text;
}
