import { memberNamed, rawText, scanJson, type JsonNode } from './json-scan.js';
import { checkAuthorization } from './edge-auth.js';
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
  /** Headers beside the content type (a 401's WWW-Authenticate, a 429's Retry-After). */
  headers?: Readonly<Record<string, string>>;
}

/** Routes whose successful answer is "created", as the REST contract names them. */
const CREATED_ROUTES: ReadonlySet<string> = new Set(['POST /task']);

/** Fixed google.rpc.Status for responses without a Status body of their own, by HTTP status. */
const LOCAL_REPLY_STATUS: Readonly<Record<number, readonly [number, string]>> = {
  400: [3, 'malformed request: the body or query string does not fit this route'],
  401: [16, 'missing or invalid bearer token'],
  404: [5, 'no route for this method and path'],
  413: [8, 'request body larger than 1 MiB'],
  429: [8, 'too many requests'],
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

const TIMESTAMP_KEYS: ReadonlySet<string> = new Set(['created_at', 'updated_at', 'schedule_time']);

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

/**
 * A successful body: {"task": {...}} becomes the reshaped task, and in
 * {"tasks": [...]} (BatchCreateTasks) each task is reshaped; anything else
 * is unchanged.
 */
export function shapeSuccessBody(text: string): string {
  const root = scanJson(text);
  const listing = root?.kind === 'object' ? shapeListingBody(text, root) : undefined;
  if (listing !== undefined) return listing;
  if (root?.kind !== 'object' || root.members.length !== 1) return text;
  const only = root.members[0]!;
  if (only.key === 'task' && only.value.kind === 'object') return shapeTask(text, only.value);
  if (only.key === 'tasks' && only.value.kind === 'array' && only.value.items.every((item) => item.kind === 'object')) {
    const tasks = only.value.items.map((item) => shapeTask(text, item as JsonNode & { kind: 'object' }));
    return `{${text.slice(only.keyFirst, only.keyLast + 1)}:[${tasks.join(',')}]}`;
  }
  return text;
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
export function checkRequest(request: { contentLength: string | undefined; authorization?: string | undefined }): RestResponse | undefined {
  // Number('') is 0 and Lua's tonumber('') is nil: both let an empty header pass.
  const length = request.contentLength === undefined || request.contentLength.trim() === '' ? NaN : Number(request.contentLength);
  if (length > MAX_REQUEST_BODY_BYTES) return localReply(413);
  return checkAuthorization(request.authorization);
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

// --- Listing, history and watching (docs/watching.md) -----------------------

const EVENT_TIMESTAMP_KEYS: ReadonlySet<string> = new Set(['at']);

/**
 * {"tasks": [...], "next_page_token": "..."} gets each task reshaped;
 * {"events": [...]} gets each event's status short, its time with six digits
 * and a missing error as null. Undefined for any other body.
 */
function shapeListingBody(text: string, root: JsonNode & { kind: 'object' }): string | undefined {
  const keys = root.members.map((member) => member.key).join(',');
  const list = root.members[0]?.value;
  if (list?.kind !== 'array' || !list.items.every((item) => item.kind === 'object')) return undefined;
  const items = list.items as (JsonNode & { kind: 'object' })[];
  if (keys === 'tasks,next_page_token') {
    return `{"tasks":[${items.map((task) => shapeTask(text, task)).join(',')}],${text.slice(root.members[1]!.keyFirst, root.members[1]!.value.last + 1)}}`;
  }
  if (keys === 'events') return `{"events":[${items.map((event) => shapeEvent(text, event)).join(',')}]}`;
  return undefined;
}

function shapeEvent(text: string, event: JsonNode & { kind: 'object' }): string {
  const members = event.members.map((member) => {
    const { value } = member;
    let replacement: string | undefined;
    if (value.kind === 'string' && member.key === 'status') replacement = shortStatus(value.value);
    else if (value.kind === 'string' && EVENT_TIMESTAMP_KEYS.has(member.key)) replacement = normalizeTimestamp(value.value);
    const printed = replacement === undefined ? rawText(text, value) : `"${replacement}"`;
    return `${text.slice(member.keyFirst, member.keyLast + 1)}:${printed}`;
  });
  if (!memberNamed(event, 'error')) members.push('"error":null');
  return `{${members.join(',')}}`;
}

/** An SSE comment: keeps idle streams (and the proxies on their way) alive; EventSource ignores it. */
export const SSE_KEEP_ALIVE = ': keep-alive\n\n';

/**
 * One frame of a watch stream as the transcoder writes it with
 * stream_sse_style_delimited ("data: <message JSON>\n\n"): {"task": {...}}
 * becomes "data: <REST task>\n\n"; a message without a task (task-api's
 * keep-alive) becomes an SSE comment, never a task. Anything else passes.
 */
export function shapeSseFrame(frame: string): string {
  const match = /^data: (.*)\n\n$/s.exec(frame);
  if (!match) return frame;
  const root = scanJson(match[1]!);
  if (root?.kind !== 'object') return frame;
  if (root.members.length === 0) return SSE_KEEP_ALIVE;
  const shaped = shapeSuccessBody(match[1]!);
  return shaped === match[1] ? frame : `data: ${shaped}\n\n`;
}

const STATUS_NAMES = ['pending', 'processing', 'completed', 'canceled', 'failed'];

/**
 * Request phase of GET /tasks: the REST query takes the lower-case status
 * name (status=pending) where the transcoder wants the enum's name, and a
 * value that is neither, or a page_size that is not a number, is refused
 * with a message naming the parameter. Returns the path to send on, or the
 * refusal. Other routes pass unchanged.
 */
export function rewriteListQuery(request: RestRequest): { path: string } | RestResponse {
  const [path, query] = [request.path.split('?')[0]!, request.path.split('?').slice(1).join('?')];
  if (request.method !== 'GET' || path !== '/tasks' || query === '') return { path: request.path };
  const parts: string[] = [];
  for (const part of query.split('&')) {
    const [name, value = ''] = [part.split('=')[0]!, part.split('=').slice(1).join('=')];
    if (name === 'status') {
      if (!STATUS_NAMES.includes(value)) return refusal(`status must be one of ${STATUS_NAMES.join(', ')}`);
      parts.push(`status=TASK_STATUS_${value.toUpperCase()}`);
      continue;
    }
    if (name === 'page_size' && !/^-?\d{1,10}$/.test(value)) return refusal('page_size must be an integer');
    parts.push(part);
  }
  return { path: `${path}?${parts.join('&')}` };
}

function refusal(message: string): RestResponse {
  return { status: 400, contentType: JSON_CONTENT_TYPE, body: `{"code":3,"message":"${message}","details":[]}` };
}
