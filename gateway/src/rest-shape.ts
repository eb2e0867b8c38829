import { memberNamed, rawText, scanJson, type JsonNode } from './json-scan.js';
import { MAX_REQUEST_BODY_BYTES } from './limits.js';

// The REST shape rule for the embedded gateway: the same rule, case for case,
// as gateway/lua/rest_shape.lua applies in Envoy (see that file for the why).
// Both are run against gateway/test/fixtures/rest-shape-cases.json. It works
// on the transcoder's JSON text and copies every value it does not change
// verbatim, so a task's content passes through byte for byte.

export interface RestRequest {
  method: string;
  /** Path with the query string, as received. */
  path: string;
}

export interface RestResponse {
  status: number;
  contentType: string | undefined;
  body: string;
}

/** Routes whose successful answer is "created", as the REST contract names them. */
const CREATED_ROUTES: ReadonlySet<string> = new Set(['POST /task']);

/** Fixed google.rpc.Status for responses without a Status body of their own, by HTTP status. */
const LOCAL_REPLY_STATUS: Readonly<Record<number, readonly [number, string]>> = {
  400: [3, 'malformed request: the body or query string does not fit this route'],
  404: [5, 'no route for this method and path'],
  413: [8, 'request body larger than 1 MiB'],
  500: [13, 'internal error'],
  502: [14, 'upstream unavailable'],
  503: [14, 'upstream unavailable'],
  504: [4, 'upstream timed out'],
};
const UNKNOWN_LOCAL_REPLY: readonly [number, string] = [2, 'request failed'];

const JSON_CONTENT_TYPE = 'application/json';

/** The fixed Status JSON a local reply with this HTTP status carries. */
export function localReplyBody(httpStatus: number): string {
  const [code, message] = LOCAL_REPLY_STATUS[httpStatus] ?? UNKNOWN_LOCAL_REPLY;
  // The fixed messages are plain ASCII without quotes or backslashes.
  return `{"code":${code},"message":"${message}","details":[]}`;
}

/** A complete local reply: status, JSON content type and fixed Status body. */
export function localReply(httpStatus: number): RestResponse {
  return { status: httpStatus, contentType: JSON_CONTENT_TYPE, body: localReplyBody(httpStatus) };
}

/** "2024-10-28T08:04:08.99Z" -> "2024-10-28T08:04:08.990000Z"; undefined if not a protobuf JSON timestamp. */
export function normalizeTimestamp(value: string): string | undefined {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$/.exec(value);
  if (!match) return undefined;
  return `${match[1]}.${(match[2] ?? '').padEnd(6, '0').slice(0, 6)}Z`;
}

/** "TASK_STATUS_PENDING" -> "pending"; undefined for anything else. */
export function shortStatus(value: string): string | undefined {
  const match = /^TASK_STATUS_([A-Z0-9_]+)$/.exec(value);
  return match ? match[1]!.toLowerCase() : undefined;
}

const TIMESTAMP_KEYS: ReadonlySet<string> = new Set(['created_at', 'updated_at']);

function shapeTask(text: string, task: JsonNode & { kind: 'object' }): string {
  // `error` says why a failed task failed: shown for failed tasks only, and
  // always a string there.
  const status = memberNamed(task, 'status')?.value;
  const failed = status?.kind === 'string' && status.value === 'TASK_STATUS_FAILED';
  const kept = task.members.filter((member) => failed || member.key !== 'error');
  const members = kept.map((member) => {
    const { value } = member;
    let replacement: string | undefined;
    if (value.kind === 'string' && member.key === 'status') replacement = shortStatus(value.value);
    else if (value.kind === 'string' && TIMESTAMP_KEYS.has(member.key)) replacement = normalizeTimestamp(value.value);
    const printed = replacement === undefined ? rawText(text, value) : `"${replacement}"`;
    return `${text.slice(member.keyFirst, member.keyLast + 1)}:${printed}`;
  });
  if (!memberNamed(task, 'updated_at')) members.push('"updated_at":null');
  if (failed && !memberNamed(task, 'error')) members.push('"error":""');
  return `{${members.join(',')}}`;
}

/** A successful body: {"task": {...}} becomes the reshaped task; anything else is unchanged. */
export function shapeSuccessBody(text: string): string {
  const root = scanJson(text);
  if (root?.kind !== 'object' || root.members.length !== 1) return text;
  const only = root.members[0]!;
  if (only.key !== 'task' || only.value.kind !== 'object') return text;
  return shapeTask(text, only.value);
}

function isStatusJson(text: string): boolean {
  const root = scanJson(text);
  if (root?.kind !== 'object') return false;
  const code = memberNamed(root, 'code')?.value;
  const message = memberNamed(root, 'message')?.value;
  const details = memberNamed(root, 'details')?.value;
  return code?.kind === 'number' && Number.isInteger(code.value) && message?.kind === 'string' && details?.kind === 'array';
}

/** Request phase: undefined to go on, or the response to send instead. */
export function checkRequest(request: { contentLength: string | undefined }): RestResponse | undefined {
  // Number('') is 0 and Lua's tonumber('') is nil: both let an empty header pass.
  const length = request.contentLength === undefined || request.contentLength.trim() === '' ? NaN : Number(request.contentLength);
  if (length > MAX_REQUEST_BODY_BYTES) return localReply(413);
  return undefined;
}

/** Response phase: the response a REST client gets. */
export function shapeResponse(request: RestRequest, response: RestResponse): RestResponse {
  let { status, contentType, body } = response;
  if (status >= 200 && status < 300) {
    if (contentType === JSON_CONTENT_TYPE) body = shapeSuccessBody(body);
    if (status === 200 && CREATED_ROUTES.has(`${request.method} ${request.path.split('?')[0]}`)) status = 201;
  } else if (status >= 400 && !(contentType === JSON_CONTENT_TYPE && isStatusJson(body))) {
    return localReply(status);
  }
  return { status, contentType, body };
}
