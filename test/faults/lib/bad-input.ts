import { create, toBinary } from '@bufbuild/protobuf';
import { CancelTaskRequestSchema, CreateTaskRequestSchema, GetTaskRequestSchema } from '@taskproc/contract';
import type { RawRequest, RawResponse } from './raw-http.js';

/**
 * Generated bad input for scenario 10, drawn from families with a seeded
 * random generator so a failing request can be reproduced (the seed is
 * printed). REST goes to the gateway; Connect (HTTP/1.1 JSON and binary),
 * gRPC (HTTP/2) and gRPC-Web go straight to task-api.
 */

export type Target = 'rest' | 'connect' | 'grpc' | 'grpc-web';

export interface BadCase {
  target: Target;
  family: string;
  request: RawRequest;
  /** HTTP statuses the contract names for this request; other answers are deviations. */
  expect?: number[];
  /**
   * The bytes are not a decodable message or envelope (garbage protobuf,
   * broken framing, 0 or 2 messages in a unary call, unsupported
   * compression). The gRPC spec has the library itself answer these
   * INTERNAL or UNIMPLEMENTED (grpc/grpc doc/statuscodes.md: "Error parsing
   * request proto: INTERNAL", "Request cardinality violation:
   * UNIMPLEMENTED"), which Envoy's table would turn into 500/501. They cannot
   * reach task-api through REST; they are tallied apart from bad input.
   */
  corrupt?: boolean;
}

/** mulberry32: small, seedable, good enough to pick cases. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;

function randomUuid(rng: Rng): string {
  const hex = () => Math.floor(rng() * 16).toString(16);
  const part = (n: number) => Array.from({ length: n }, hex).join('');
  return `${part(8)}-${part(4)}-7${part(3)}-${pick(rng, ['8', '9', 'a', 'b'])}${part(3)}-${part(12)}`;
}

function randomBytes(rng: Rng, n: number): Buffer {
  return Buffer.from(Array.from({ length: n }, () => Math.floor(rng() * 256)));
}

/** Task ids that are not UUIDs, as path segments (already percent-encoded where needed). */
function badIds(rng: Rng): string[] {
  const uuid = randomUuid(rng);
  return [
    'abc',
    '123',
    'null',
    'undefined',
    uuid.slice(0, -1),
    `${uuid}0`,
    uuid.replace(/-/g, ''),
    `{${uuid}}`,
    uuid.replace('-', '_'),
    `${uuid.slice(0, 8)}-zzzz-${uuid.slice(14)}`,
    'x'.repeat(1 + Math.floor(rng() * 5000)),
    encodeURIComponent("' or 1=1 --"),
    encodeURIComponent('1; drop table task;'),
    '%00',
    '%ZZ',
    '%C0%AF',
    encodeURIComponent('ünïcödé-☃'),
    encodeURIComponent('../../etc/passwd'),
    '..%2F..%2F',
    '-1',
    '1e309',
    '%20',
  ];
}

/** JSON bodies that are malformed or of the wrong shape for {"content": string}. */
function badJsonBodies(rng: Rng): { body: Buffer; kind: string }[] {
  const valid = JSON.stringify({ content: `bad input ${Math.floor(rng() * 1e6)}` });
  const cut = Math.floor(rng() * (valid.length - 1));
  const nested = '['.repeat(5000 + Math.floor(rng() * 5000));
  return [
    { kind: 'truncated', body: Buffer.from(valid.slice(0, cut)) },
    { kind: 'garbage', body: randomBytes(rng, 1 + Math.floor(rng() * 300)) },
    { kind: 'empty', body: Buffer.alloc(0) },
    { kind: 'not-object', body: Buffer.from(pick(rng, ['null', '[]', '"content"', '123', 'true', '[{"content":"x"}]'])) },
    { kind: 'content-number', body: Buffer.from(`{"content": ${pick(rng, ['1', '-0', '1e309', '0.5', '12345678901234567890'])}}`) },
    { kind: 'content-wrong-type', body: Buffer.from(`{"content": ${pick(rng, ['true', 'null', '[]', '{}', '["x"]', '{"a":"b"}'])}}`) },
    { kind: 'content-missing', body: Buffer.from(pick(rng, ['{}', '{"contents":"x"}', '{"Content":"x"}'])) },
    { kind: 'content-empty', body: Buffer.from('{"content": ""}') },
    { kind: 'content-too-long', body: Buffer.from(JSON.stringify({ content: 'a'.repeat(65_537 + Math.floor(rng() * 1000)) })) },
    { kind: 'content-too-long-utf8', body: Buffer.from(JSON.stringify({ content: '€'.repeat(21_846 + Math.floor(rng() * 100)) })) },
    { kind: 'unknown-field', body: Buffer.from(JSON.stringify({ content: 'x', [pick(rng, ['id', 'status', 'foo', '__proto__', 'constructor'])]: pick(rng, [1, 'pending', {}, null]) })) },
    { kind: 'syntax', body: Buffer.from(pick(rng, ["{'content': 'x'}", '{"content": "x",}', '{"content": "x" /* c */}', '{content: "x"}', '{"content": "\\x"}', '{"content": "\\ud800"}', '{"content":"x"}{"content":"y"}'])) },
    { kind: 'bom', body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(valid)]) },
    { kind: 'invalid-utf8', body: Buffer.concat([Buffer.from('{"content": "'), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from('"}')]) },
    { kind: 'deep-nesting', body: Buffer.from(`{"content": ${nested}`) },
    { kind: 'duplicate-key', body: Buffer.from('{"content": "a", "content": 5}') },
  ];
}

const PROCEDURE = '/taskproc.v1.TaskService';

/** One REST case against the gateway. */
function restCase(rng: Rng): BadCase {
  const family = pick(rng, ['body', 'body', 'body', 'too-large', 'bad-id', 'bad-id', 'not-found', 'method', 'path', 'content-type']);
  switch (family) {
    case 'body': {
      const { kind, body } = pick(rng, badJsonBodies(rng));
      const expect = ['unknown-field', 'bom', 'duplicate-key'].includes(kind) ? undefined : [400];
      return { target: 'rest', family: `POST /task ${kind}`, request: { method: 'POST', path: '/task', headers: { 'content-type': 'application/json' }, body }, expect };
    }
    case 'too-large': {
      const size = 1_048_577 + Math.floor(rng() * 2_000_000);
      const body = Buffer.from(JSON.stringify({ content: 'a'.repeat(size) }));
      return { target: 'rest', family: 'POST /task over 1 MiB', request: { method: 'POST', path: '/task', headers: { 'content-type': 'application/json' }, body }, expect: [413] };
    }
    case 'bad-id': {
      const id = pick(rng, badIds(rng));
      const cancel = rng() < 0.5;
      return {
        target: 'rest',
        family: cancel ? 'PATCH /task/{bad id}/cancel' : 'GET /task/{bad id}',
        request: { method: cancel ? 'PATCH' : 'GET', path: cancel ? `/task/${id}/cancel` : `/task/${id}` },
        // Ids that are not one path segment ("..%2F", "%00") may fall to "no route" (404).
        expect: [400, 404],
      };
    }
    case 'not-found': {
      const id = rng() < 0.3 ? randomUuid(rng).toUpperCase() : randomUuid(rng);
      const cancel = rng() < 0.5;
      return {
        target: 'rest',
        family: cancel ? 'PATCH /task/{unknown}/cancel' : 'GET /task/{unknown}',
        request: { method: cancel ? 'PATCH' : 'GET', path: cancel ? `/task/${id}/cancel` : `/task/${id}` },
        expect: [404],
      };
    }
    case 'method': {
      const id = randomUuid(rng);
      const [method, path] = pick(rng, [
        ['GET', '/task'],
        ['DELETE', '/task'],
        ['PUT', '/task'],
        ['PATCH', '/task'],
        ['DELETE', `/task/${id}`],
        ['PUT', `/task/${id}`],
        ['POST', `/task/${id}`],
        ['POST', `/task/${id}/cancel`],
        ['GET', `/task/${id}/cancel`],
        ['DELETE', `/task/${id}/cancel`],
        ['POST', '/health'],
        ['OPTIONS', '/task'],
        ['PROPFIND', '/task'],
      ] as const);
      return { target: 'rest', family: `wrong method ${method} ${path.replace(id, '{id}')}`, request: { method, path, headers: { 'content-type': 'application/json' }, body: '{"content":"x"}' } };
    }
    case 'path': {
      // Not `${PROCEDURE}/...`: the gateway serves the Connect protocol there
      // (for the dashboard), with Connect's own error bodies.
      const path = pick(rng, ['/', '/taskz', '/task/', '/task//cancel', `/task/${randomUuid(rng)}/cancel/extra`, '/%2e%2e/%2e%2e/etc/passwd', `/task?content=${'x'.repeat(2000)}`, `/${'a/'.repeat(200)}`, '/task/%', '/health/x']);
      return { target: 'rest', family: 'unknown path', request: { method: pick(rng, ['GET', 'POST', 'PATCH']), path } };
    }
    default: {
      const contentType = pick(rng, ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', 'application/xml', '']);
      const body = pick(rng, ['content=x', '<content>x</content>', '{"content": 1}', '--x\r\ncontent\r\n--x--']);
      return { target: 'rest', family: `POST /task content-type ${contentType || '(none)'}`, request: { method: 'POST', path: '/task', headers: contentType ? { 'content-type': contentType } : {}, body } };
    }
  }
}

/** One Connect-protocol case (HTTP/1.1) against task-api. */
function connectCase(rng: Rng): BadCase {
  const family = pick(rng, ['json', 'json', 'binary', 'bad-id', 'unknown-procedure', 'method', 'content-type', 'huge']);
  const json = { 'content-type': 'application/json' };
  switch (family) {
    case 'json': {
      const { kind, body } = pick(rng, badJsonBodies(rng));
      return { target: 'connect', family: `Connect CreateTask ${kind}`, request: { method: 'POST', path: `${PROCEDURE}/CreateTask`, headers: json, body } };
    }
    case 'binary':
      return {
        target: 'connect',
        family: 'Connect proto garbage',
        request: { method: 'POST', path: `${PROCEDURE}/${pick(rng, ['CreateTask', 'GetTask', 'CancelTask'])}`, headers: { 'content-type': 'application/proto' }, body: randomBytes(rng, Math.floor(rng() * 500)) },
        corrupt: true,
      };
    case 'bad-id': {
      const id = decodeURIComponentSafe(pick(rng, badIds(rng)));
      const body = pick(rng, [JSON.stringify({ taskId: id }), JSON.stringify({ task_id: id }), '{"taskId": 5}', '{"taskId": null}', '{"taskId": ["x"]}']);
      return { target: 'connect', family: 'Connect bad task id', request: { method: 'POST', path: `${PROCEDURE}/${pick(rng, ['GetTask', 'CancelTask'])}`, headers: json, body } };
    }
    case 'unknown-procedure':
      return { target: 'connect', family: 'Connect unknown procedure', request: { method: 'POST', path: pick(rng, [`${PROCEDURE}/DeleteTask`, '/taskproc.v1.Nope/CreateTask', `${PROCEDURE}/`, '/grpc.health.v1.Health/Nope']), headers: json, body: '{}' } };
    case 'method':
      return {
        target: 'connect',
        family: 'Connect wrong HTTP method',
        request: { method: pick(rng, ['GET', 'PUT', 'DELETE', 'PATCH']), path: `${PROCEDURE}/${pick(rng, ['CreateTask', 'GetTask', 'CancelTask'])}${rng() < 0.5 ? '?encoding=json&message=%7B%7D' : ''}` },
      };
    case 'content-type':
      return {
        target: 'connect',
        family: 'Connect wrong content-type',
        request: { method: 'POST', path: `${PROCEDURE}/CreateTask`, headers: { 'content-type': pick(rng, ['text/plain', 'application/xml', 'application/json+bogus', 'application/connect+json']) }, body: '{"content":"x"}' },
      };
    default:
      return {
        target: 'connect',
        family: 'Connect body over the read limit',
        request: { method: 'POST', path: `${PROCEDURE}/CreateTask`, headers: json, body: Buffer.from(JSON.stringify({ content: 'a'.repeat(2_200_000 + Math.floor(rng() * 1_000_000)) })) },
      };
  }
}

/** A gRPC length-prefixed frame: flag byte, 4-byte big-endian length, payload. */
function frame(payload: Buffer, { compressed = false, declaredLength }: { compressed?: boolean; declaredLength?: number } = {}): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt8(compressed ? 1 : 0, 0);
  header.writeUInt32BE(declaredLength ?? payload.length, 1);
  return Buffer.concat([header, payload]);
}

function grpcBody(rng: Rng): { kind: string; body: Buffer; method: string; corrupt: boolean } {
  const method = pick(rng, ['CreateTask', 'GetTask', 'CancelTask']);
  const badId = decodeURIComponentSafe(pick(rng, badIds(rng)));
  const options: { kind: string; body: Buffer; method?: string }[] = [
    { kind: 'garbage payload', body: frame(randomBytes(rng, 1 + Math.floor(rng() * 300))) },
    { kind: 'truncated frame', body: frame(randomBytes(rng, 3), { declaredLength: 100 }) },
    { kind: 'partial header', body: Buffer.from([0, 0]) },
    { kind: 'compressed flag, no encoding', body: frame(randomBytes(rng, 20), { compressed: true }) },
    { kind: 'declared 4 GiB', body: frame(randomBytes(rng, 10), { declaredLength: 0xffffffff }) },
    { kind: 'two messages in a unary call', body: Buffer.concat([frame(Buffer.alloc(0)), frame(Buffer.alloc(0))]) },
    { kind: 'no message', body: Buffer.alloc(0) },
    { kind: 'bad task id', method: pick(rng, ['GetTask', 'CancelTask']), body: frame(Buffer.from(toBinary(GetTaskRequestSchema, create(GetTaskRequestSchema, { taskId: badId })))) },
    { kind: 'unknown task', method: 'CancelTask', body: frame(Buffer.from(toBinary(CancelTaskRequestSchema, create(CancelTaskRequestSchema, { taskId: randomUuid(rng) })))) },
    { kind: 'empty content', method: 'CreateTask', body: frame(Buffer.from(toBinary(CreateTaskRequestSchema, create(CreateTaskRequestSchema, { content: '' })))) },
    { kind: 'content too long', method: 'CreateTask', body: frame(Buffer.from(toBinary(CreateTaskRequestSchema, create(CreateTaskRequestSchema, { content: 'b'.repeat(65_537 + Math.floor(rng() * 100_000)) })))) },
    // field 1 (string) holding bytes that are not UTF-8
    { kind: 'invalid UTF-8 string', method: 'CreateTask', body: frame(Buffer.from([0x0a, 0x04, 0xc3, 0x28, 0xff, 0xfe])) },
    // field 1 declared longer than the message
    { kind: 'field overruns message', body: frame(Buffer.from([0x0a, 0x7f, 0x41])) },
    { kind: 'unknown fields only', body: frame(Buffer.from([0x78, 0x01, 0x82, 0x01, 0x01, 0x41])) },
  ];
  const chosen = pick(rng, options);
  return { kind: chosen.kind, body: chosen.body, method: chosen.method ?? method, corrupt: !DECODABLE.has(chosen.kind) };
}

/** gRPC bodies that are one well-formed message: bad values, not bad bytes. */
const DECODABLE = new Set(['bad task id', 'unknown task', 'empty content', 'content too long', 'unknown fields only']);

/** One gRPC case over HTTP/2 against task-api. */
function grpcCase(rng: Rng): BadCase {
  if (rng() < 0.15) {
    const path = pick(rng, [`${PROCEDURE}/DeleteTask`, '/taskproc.v1.Nope/Get', '/', `${PROCEDURE}`, '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo']);
    return { target: 'grpc', family: 'gRPC unknown method', request: { method: 'POST', path, headers: { 'content-type': 'application/grpc', te: 'trailers' }, body: frame(Buffer.alloc(0)) } };
  }
  if (rng() < 0.1) {
    return {
      target: 'grpc',
      family: 'gRPC wrong content-type or method',
      request: { method: pick(rng, ['GET', 'PUT', 'POST']), path: `${PROCEDURE}/CreateTask`, headers: { 'content-type': pick(rng, ['application/grpc+json', 'application/grpc+bogus', 'text/plain']), te: 'trailers' }, body: frame(randomBytes(rng, 8)) },
    };
  }
  const { kind, body, method, corrupt } = grpcBody(rng);
  const headers: Record<string, string> = { 'content-type': 'application/grpc', te: 'trailers' };
  if (rng() < 0.1) headers['grpc-timeout'] = pick(rng, ['0n', 'xyz', '99999999999H', '1m']);
  if (rng() < 0.05) {
    headers['grpc-encoding'] = pick(rng, ['br', 'bogus', 'x-unknown']);
    return { target: 'grpc', family: `gRPC unsupported grpc-encoding`, request: { method: 'POST', path: `${PROCEDURE}/${method}`, headers, body }, corrupt: true };
  }
  return { target: 'grpc', family: `gRPC ${kind}`, request: { method: 'POST', path: `${PROCEDURE}/${method}`, headers, body }, corrupt };
}

/** One gRPC-Web case (HTTP/1.1) against task-api. */
function grpcWebCase(rng: Rng): BadCase {
  const { kind, body, method, corrupt } = grpcBody(rng);
  const contentType = pick(rng, ['application/grpc-web', 'application/grpc-web+proto', 'application/grpc-web-text']);
  return {
    target: 'grpc-web',
    family: `gRPC-Web ${kind}`,
    request: { method: 'POST', path: `${PROCEDURE}/${method}`, headers: { 'content-type': contentType, 'x-grpc-web': '1' }, body: contentType.endsWith('text') ? body.toString('base64') : body },
    corrupt,
  };
}

export function generateCases(seed: number, perTarget: Record<Target, number>): BadCase[] {
  const rng = random(seed);
  const makers: Record<Target, (rng: Rng) => BadCase> = { rest: restCase, connect: connectCase, grpc: grpcCase, 'grpc-web': grpcWebCase };
  const cases: BadCase[] = [];
  for (const target of Object.keys(perTarget) as Target[]) {
    for (let i = 0; i < perTarget[target]; i++) cases.push(makers[target](rng));
  }
  // Interleave the targets so every server sees a mix over time.
  for (let i = cases.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [cases[i], cases[j]] = [cases[j]!, cases[i]!];
  }
  return cases;
}

// --- judging an answer -------------------------------------------------------

/** gRPC status codes Envoy's table maps to 5xx that bad input must never produce. */
const SERVER_ERROR_GRPC_CODES = new Set(['2', '13', '14', '15']);

export interface Verdict {
  /** A 5xx (or a gRPC status Envoy maps to 5xx) the contract forbids for this request. */
  fiveXx: boolean;
  /** A corrupt request answered with the gRPC library's own INTERNAL/UNIMPLEMENTED, as the gRPC spec prescribes. */
  libraryCode: boolean;
  leak: string | null;
  /** REST error bodies must be google.rpc.Status JSON. */
  badShape: boolean;
  /** The answer is not what the contract names for this request. */
  deviation: boolean;
  noAnswer: boolean;
}

// What must never reach a client: stack frames, file paths, SQL, driver and
// ORM messages, raw exception class names.
const LEAKS: [string, RegExp][] = [
  ['stack frame', /\bat [^\s()]+ \(|\n\s+at \S|:\d+:\d+\)/],
  ['file path', /node_modules|node:internal|\/src\/[\w/-]+\.[jt]s|\.[jt]s:\d+/],
  ['SQL', /\b(select\s+[\w*"]+.*\bfrom|insert\s+into|update\s+"?\w+"?\s+set|delete\s+from)\b/i],
  ['database message', /SQLSTATE|syntax error at or near|invalid input syntax|violates|duplicate key|relation "|column "|MikroORM|knex|postgres|pg_|ECONNREFUSED|ECONNRESET|terminating connection/i],
  ['exception class', /\b(TypeError|ReferenceError|RangeError|SyntaxError|AssertionError)\b/],
];

function grpcStatusOf(response: RawResponse): string | undefined {
  const fromBody = /grpc-status:\s*(\d+)/i.exec(response.body)?.[1];
  return response.trailers['grpc-status'] ?? response.headers['grpc-status'] ?? fromBody;
}

export function judge(badCase: BadCase, response: RawResponse): Verdict {
  const noAnswer = response.status === 0;
  const grpcStatus = grpcStatusOf(response);
  const serverSide = response.status >= 500 || (grpcStatus !== undefined && SERVER_ERROR_GRPC_CODES.has(grpcStatus));
  const libraryCode =
    badCase.corrupt === true &&
    (grpcStatus === '13' || grpcStatus === '12' || ((response.status === 500 || response.status === 501) && /"code":"(internal|unimplemented)"/.test(response.body)));
  const fiveXx = (serverSide || grpcStatus === '12') && !libraryCode;
  const isError = response.status >= 400 || (grpcStatus !== undefined && grpcStatus !== '0');
  const visible = `${response.body}\n${decodeURIComponentSafe(response.trailers['grpc-message'] ?? response.headers['grpc-message'] ?? '')}`;
  const leak = isError ? (LEAKS.find(([, pattern]) => pattern.test(visible))?.[0] ?? null) : null;
  let badShape = false;
  if (badCase.target === 'rest' && response.status >= 400) {
    try {
      const parsed = JSON.parse(response.body) as { code?: unknown; message?: unknown; details?: unknown };
      badShape = typeof parsed.code !== 'number' || typeof parsed.message !== 'string' || !Array.isArray(parsed.details);
    } catch {
      badShape = true;
    }
  }
  const deviation = badCase.expect !== undefined && !badCase.expect.includes(response.status);
  return { fiveXx, libraryCode, leak, badShape, deviation, noAnswer };
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
