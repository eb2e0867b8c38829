import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
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
  request: { method: string; path: string; contentLength: string | null };
  expected: { status: number; contentType: string; body: string } | null;
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
  sseFrames: SseFrameCase[];
  queries: QueryCase[];
};

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
    const refusal = checkRequest({ contentLength: testCase.request.contentLength ?? undefined });
    expect(refusal).toEqual(testCase.expected ?? undefined);
  });

  it.each(fixtures.sseFrames.map((c) => [c.name, c] as const))('event stream frame: %s', (_name, testCase) => {
    expect(shapeSseFrame(testCase.frame)).toBe(testCase.expected);
  });

  it.each(fixtures.queries.map((c) => [c.name, c] as const))('list query: %s', (_name, testCase) => {
    expect(rewriteListQuery(testCase.request)).toEqual(testCase.expected);
  });
});

describe('REST shape rule details', () => {
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
