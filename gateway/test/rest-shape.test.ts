import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BatchCreateTasksRequestSchema, CreateTaskRequestSchema } from '@taskproc/contract';
import { BODY_FIELDS, checkBodyFields } from '../src/body-fields.js';
import { errorHeaders } from '../src/edge-auth.js';
import { applyIdempotencyKey } from '../src/idempotency-key.js';
import { checkRequest, normalizeTimestamp, rewriteListQuery, shapeResponse, shapeSseFrame, shortStatus } from '../src/rest-shape.js';

// The embedded gateway's REST shape rule against the fixture file the Envoy
// Lua rule is run with too (rest-shape-lua.test.ts), so the two cannot drift.

interface ResponseCase {
  name: string;
  request: { method: string; path: string };
  upstream: { status: number; contentType: string | null; body: string };
  expected: { status: number; contentType: string | null; body: string };
}

interface RequestCase {
  name: string;
  /** authorizationLength: the length of an Authorization header "Bearer xxx...". */
  request: { method: string; path: string; contentLength: string | null; authorizationLength?: number };
  expected: { status: number; contentType: string; body: string; headers?: Record<string, string> } | null;
}

interface ErrorHeadersCase {
  name: string;
  status: number;
  hadCredentials: boolean;
  retryAfter: string | null;
  /** Where task-api's metadata was (the Lua runner puts it there). */
  retryAfterIn: 'header' | 'trailer' | null;
  expected: Record<string, string>;
}

interface IdempotencyKeyCase {
  name: string;
  request: { method: string; path: string; idempotencyKey: string | null; body: string };
  expected: { body: string } | { refusal: { status: number; contentType: string; body: string } };
}

interface SseFrameCase {
  name: string;
  frame: string;
  expected: string;
}

interface QueryCase {
  name: string;
  request: { method: string; path: string };
  expected: { path: string } | { status: number; contentType: string; body: string };
}

const fixtures = JSON.parse(readFileSync(new URL('./fixtures/rest-shape-cases.json', import.meta.url), 'utf8')) as {
  responses: ResponseCase[];
  requests: RequestCase[];
  idempotencyKeys: IdempotencyKeyCase[];
  bodyFields: { name: string; request: { method: string; path: string; body: string }; expected: RequestCase['expected'] }[];
  bodyFieldTable: typeof BODY_FIELDS;
  sseFrames: SseFrameCase[];
  queries: QueryCase[];
  errorHeaders: ErrorHeadersCase[];
};

const authorizationOf = (length: number | undefined) => (length === undefined ? undefined : `Bearer ${'x'.repeat(length - 7)}`);

describe('REST shape rule (TypeScript) on the shared fixtures', () => {
  it.each(fixtures.responses.map((c) => [c.name, c] as const))('response: %s', (_name, testCase) => {
    const shaped = shapeResponse(testCase.request, {
      status: testCase.upstream.status,
      contentType: testCase.upstream.contentType ?? undefined,
      body: testCase.upstream.body,
    });
    expect(shaped).toEqual({
      status: testCase.expected.status,
      contentType: testCase.expected.contentType ?? undefined,
      body: testCase.expected.body,
    });
  });

  it.each(fixtures.requests.map((c) => [c.name, c] as const))('request: %s', (_name, testCase) => {
    const refusal = checkRequest({ contentLength: testCase.request.contentLength ?? undefined, authorization: authorizationOf(testCase.request.authorizationLength) });
    expect(refusal).toEqual(testCase.expected ?? undefined);
  });

  it.each(fixtures.errorHeaders.map((c) => [c.name, c] as const))('error headers: %s', (_name, testCase) => {
    expect(errorHeaders(testCase.status, { hadCredentials: testCase.hadCredentials, retryAfter: testCase.retryAfter ?? undefined })).toEqual(testCase.expected);
  });

  it.each(fixtures.bodyFields.map((c) => [c.name, c] as const))('body fields: %s', (_name, testCase) => {
    expect(checkBodyFields(testCase.request)).toEqual(testCase.expected ?? undefined);
  });

  it('knows the body fields that proto/ declares (the Lua rule is held to the same table)', () => {
    expect(fixtures.bodyFieldTable).toEqual(BODY_FIELDS);
    const createFields = CreateTaskRequestSchema.fields.flatMap((f) => [f.name, f.jsonName]);
    expect([...BODY_FIELDS['POST /task']!.fields].sort()).toEqual([...new Set(createFields)].sort());
    expect(BODY_FIELDS['POST /tasks:batchCreate']!.fields).toEqual(BatchCreateTasksRequestSchema.fields.map((f) => f.name));
    expect(BODY_FIELDS['POST /tasks:batchCreate']!.lists.requests).toEqual(BODY_FIELDS['POST /task']!.fields);
  });

  it.each(fixtures.idempotencyKeys.map((c) => [c.name, c] as const))('Idempotency-Key: %s', (_name, testCase) => {
    const { idempotencyKey, ...request } = testCase.request;
    expect(applyIdempotencyKey({ ...request, idempotencyKey: idempotencyKey ?? undefined })).toEqual(testCase.expected);
  });

  it.each(fixtures.sseFrames.map((c) => [c.name, c] as const))('event stream frame: %s', (_name, testCase) => {
    expect(shapeSseFrame(testCase.frame)).toBe(testCase.expected);
  });

  it.each(fixtures.queries.map((c) => [c.name, c] as const))('list query: %s', (_name, testCase) => {
    expect(rewriteListQuery(testCase.request)).toEqual(testCase.expected);
  });
});

describe('REST shape rule details', () => {
  it('takes a body of 100,000 nested brackets for no JSON object rather than running out of stack', () => {
    const body = `{"content":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    expect(checkBodyFields({ method: 'POST', path: '/task', body })).toBeUndefined();
  });

  it('normalizes only protobuf JSON timestamps', () => {
    expect(normalizeTimestamp('2024-10-28T08:04:08Z')).toBe('2024-10-28T08:04:08.000000Z');
    expect(normalizeTimestamp('2024-10-28T08:04:08.123456789Z')).toBe('2024-10-28T08:04:08.123456Z');
    expect(normalizeTimestamp('2024-10-28T08:04:08+01:00')).toBeUndefined();
    expect(normalizeTimestamp('2024-10-28T08:04:08123Z')).toBeUndefined();
  });

  it('shortens only TaskStatus names', () => {
    expect(shortStatus('TASK_STATUS_CANCELED')).toBe('canceled');
    expect(shortStatus('OTHER_PENDING')).toBeUndefined();
  });

  it('keeps a task content containing every kind of JSON escape intact, whatever the fixtures hold', () => {
    const content = 'a"b\\c\n\u0001<>\u2028 {"task":{"status":"TASK_STATUS_PENDING"}} 2024-10-28T08:04:08Z 😀';
    const body = `{"task":{"id":"x","content":${JSON.stringify(content)},"status":"TASK_STATUS_PENDING","created_at":"2024-10-28T08:04:08Z"}}`;
    const shaped = shapeResponse({ method: 'GET', path: '/task/x' }, { status: 200, contentType: 'application/json', body });
    expect(JSON.parse(shaped.body)).toEqual({
      id: 'x',
      content,
      status: 'pending',
      created_at: '2024-10-28T08:04:08.000000Z',
      updated_at: null,
    });
  });
});
