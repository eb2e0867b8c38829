// A small model of the HTTP connection manager's local_reply_config
// (source/common/local_reply/local_reply.cc) for the filters envoy.yaml's
// mappers use: the first mapper whose filter matches rewrites the status,
// adds its headers and formats the body; none matching leaves the reply as
// the filter made it. Unknown filter kinds throw, so the model cannot pass
// a mapper it does not understand.

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface LocalReply {
  /** Request headers, lower-case names. */
  request: Record<string, string>;
  status: number;
  /** The body the filter sent (%LOCAL_REPLY_BODY%). */
  body: string;
  /** Headers the filter set itself (jwt_authn's challenge, local_ratelimit's Retry-After). */
  headers?: Record<string, string>;
  /** Dynamic metadata, namespace -> key -> value. */
  metadata?: Record<string, Record<string, unknown>>;
}

export interface RewrittenReply {
  status: number;
  headers: Record<string, string>;
  /** The body as sent: for json_format, the parsed object. */
  body: string | Record<string, unknown>;
  /** Which mapper applied (index), or -1. */
  mapper: number;
}

export function rewriteLocalReply(config: Json, reply: LocalReply): RewrittenReply {
  const mappers: Json[] = config?.mappers ?? [];
  const headers = { ...reply.headers };
  for (const [index, mapper] of mappers.entries()) {
    if (!matches(mapper.filter, reply)) continue;
    const bodyText: string = mapper.body?.inline_string ?? reply.body;
    for (const option of mapper.headers_to_add ?? []) {
      const { key, value } = option.header;
      const action = option.append_action ?? 'APPEND_IF_EXISTS_OR_ADD';
      if (action === 'OVERWRITE_IF_EXISTS_OR_ADD' || headers[key] === undefined) headers[key] = value;
      else if (action === 'APPEND_IF_EXISTS_OR_ADD') headers[key] = `${headers[key]},${value}`;
    }
    const status = mapper.status_code ?? reply.status;
    const body = mapper.body_format_override ? format(mapper.body_format_override, bodyText) : bodyText;
    return { status, headers, body, mapper: index };
  }
  return { status: reply.status, headers, body: reply.body, mapper: -1 };
}

function format(formatString: Json, localReplyBody: string): string | Record<string, unknown> {
  if (formatString.json_format) return substitute(formatString.json_format, localReplyBody) as Record<string, unknown>;
  if (formatString.text_format_source?.inline_string !== undefined) return formatString.text_format_source.inline_string.replaceAll('%LOCAL_REPLY_BODY%', localReplyBody);
  throw new Error(`body format ${JSON.stringify(formatString)} is not one this model knows`);
}

function substitute(value: Json, localReplyBody: string): Json {
  if (typeof value === 'string') {
    const operators = value.match(/%[A-Z_]+(\([^)]*\))?%/g) ?? [];
    for (const operator of operators) if (operator !== '%LOCAL_REPLY_BODY%') throw new Error(`command operator ${operator} is not one this model knows`);
    return value.replaceAll('%LOCAL_REPLY_BODY%', localReplyBody);
  }
  if (Array.isArray(value)) return value.map((item) => substitute(item, localReplyBody));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, substitute(item, localReplyBody)]));
  return value;
}

function matches(filter: Json, reply: LocalReply): boolean {
  const kinds = Object.keys(filter ?? {});
  if (kinds.length !== 1) throw new Error(`access log filter ${JSON.stringify(filter)} has ${kinds.length} kinds`);
  const [kind] = kinds as [string];
  const spec = filter[kind];
  switch (kind) {
    case 'and_filter':
      return spec.filters.every((inner: Json) => matches(inner, reply));
    case 'or_filter':
      return spec.filters.some((inner: Json) => matches(inner, reply));
    case 'status_code_filter': {
      const { op = 'EQ', value } = spec.comparison;
      const expected = value.default_value;
      if (op === 'EQ') return reply.status === expected;
      if (op === 'GE') return reply.status >= expected;
      if (op === 'LE') return reply.status <= expected;
      throw new Error(`comparison ${op} is not one this model knows`);
    }
    case 'header_filter':
      return headerMatches(spec.header, reply.request);
    case 'metadata_filter': {
      const { filter: namespace, path, value } = spec.matcher;
      if (path.length !== 1 || !value.present_match) throw new Error(`metadata matcher ${JSON.stringify(spec.matcher)} is not one this model knows`);
      return reply.metadata?.[namespace]?.[path[0].key] !== undefined;
    }
    default:
      throw new Error(`access log filter kind ${kind} is not one this model knows`);
  }
}

function headerMatches(matcher: Json, request: Record<string, string>): boolean {
  const value = request[matcher.name.toLowerCase()];
  const known = new Set(Object.keys(matcher));
  for (const key of ['name', 'string_match', 'present_match']) known.delete(key);
  if (known.size > 0) throw new Error(`header matcher ${JSON.stringify(matcher)} is not one this model knows`);
  if (matcher.present_match !== undefined) return (value !== undefined) === matcher.present_match;
  if (value === undefined) return false;
  const { exact, prefix, ...other } = matcher.string_match;
  if (Object.keys(other).length > 0) throw new Error(`string matcher ${JSON.stringify(matcher.string_match)} is not one this model knows`);
  if (exact !== undefined) return value === exact;
  if (prefix !== undefined) return value.startsWith(prefix);
  return false;
}
