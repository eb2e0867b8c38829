import { Writable } from 'node:stream';
import { create } from '@bufbuild/protobuf';
import { TimestampSchema } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import { TaskService, TaskStatus, type Task } from '@taskproc/contract';
import { createLogger } from '@taskproc/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../src/index.js';
import { MAX_REQUEST_HEADER_BYTES, MAX_TOKEN_BYTES } from '../src/limits.js';
import { startStubUpstream, type StubUpstream } from './support/stub-upstream.js';

// The embedded gateway at the authentication edge, in front of a stub
// TaskService that answers as task-api's interceptor does (its errors'
// metadata in the gRPC trailers): the Authorization header reaches the
// upstream on unary and streaming routes, UNAUTHENTICATED is a 401 with its
// challenge, RESOURCE_EXHAUSTED a 429 with task-api's retry-after, an
// oversized token a 401 that never reaches the upstream, and no token is
// ever logged. (test/rest-auth.test.ts runs every route against a real
// task-api with authentication on.)

const ID = '0193f1f2-7c1e-7a55-9a0e-3f2b1c4d5e6f';
const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJ0ZW5hbnQiOiJhY21lIn0.c2lnbmF0dXJlLW9mLXRoZS1zdHVi';
const CHALLENGE = 'Bearer realm="taskproc"';
const INVALID_TOKEN_CHALLENGE = 'Bearer realm="taskproc", error="invalid_token"';

let upstream: StubUpstream;
let gateway: RunningGateway;
/** The authorization header of each call the stub received, in order. */
const seen: (string | null)[] = [];
let logged = '';

function task(id: string): Task {
  return { $typeName: 'taskproc.v1.Task', id, content: 'x', status: TaskStatus.PENDING, createdAt: create(TimestampSchema, { seconds: 1730102648n }) } as Task;
}

/** Refuses as task-api does for the ids that name a refusal. */
function refuse(taskId: string): void {
  if (taskId === 'spent') throw new ConnectError('request budget of tenant acme spent', Code.ResourceExhausted, { 'retry-after': '7' });
  if (taskId === 'spent-no-hint') throw new ConnectError('too many watch streams', Code.ResourceExhausted);
  if (taskId === 'refused') throw new ConnectError('token expired', Code.Unauthenticated);
}

beforeAll(async () => {
  upstream = await startStubUpstream((router) =>
    router.service(TaskService, {
      getTask(request, context) {
        seen.push(context.requestHeader.get('authorization'));
        refuse(request.taskId);
        return { task: task(request.taskId) };
      },
      async *watchTask(request, context) {
        seen.push(context.requestHeader.get('authorization'));
        refuse(request.taskId);
        yield { task: task(request.taskId) };
      },
    }),
  );
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logged += chunk.toString();
      done();
    },
  });
  gateway = await startGateway(
    { host: '127.0.0.1', port: 0, upstreamUrl: upstream.url, logLevel: 'debug' },
    { logger: createLogger('gateway', 'debug', sink), requestTimeoutMs: 2_000 },
  );
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

const get = (path: string, authorization?: string) => fetch(`${gateway.url}${path}`, { headers: authorization === undefined ? {} : { authorization } });

describe('embedded gateway: authentication and limits', () => {
  it('passes the Authorization header to task-api on unary and streaming routes', async () => {
    seen.length = 0;
    expect((await get(`/task/${ID}`, `Bearer ${TOKEN}`)).status).toBe(200);
    const watch = await get(`/task/${ID}/watch`, `Bearer ${TOKEN}`);
    expect(watch.status).toBe(200);
    await watch.text();
    expect((await get(`/task/${ID}`)).status).toBe(200);
    expect(seen).toEqual([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`, null]);
  });

  it('answers UNAUTHENTICATED 401 with the Status body and a challenge, invalid_token when a token came', async () => {
    for (const [authorization, challenge] of [
      [`Bearer ${TOKEN}`, INVALID_TOKEN_CHALLENGE],
      [undefined, CHALLENGE],
    ] as const) {
      for (const path of ['/task/refused', '/task/refused/watch']) {
        const response = await get(path, authorization);
        expect(response.status, path).toBe(401);
        expect(response.headers.get('content-type'), path).toBe('application/json');
        expect(response.headers.get('www-authenticate'), path).toBe(challenge);
        expect(await response.json(), path).toEqual({ code: 16, message: 'token expired', details: [] });
      }
    }
  });

  it("answers RESOURCE_EXHAUSTED 429 with task-api's retry-after as Retry-After, before a watch starts too", async () => {
    for (const path of ['/task/spent', '/task/spent/watch']) {
      const response = await get(path, `Bearer ${TOKEN}`);
      expect(response.status, path).toBe(429);
      expect(response.headers.get('retry-after'), path).toBe('7');
      expect(response.headers.get('www-authenticate'), path).toBeNull();
      expect(await response.json(), path).toEqual({ code: 8, message: 'request budget of tenant acme spent', details: [] });
    }
    // Without a hint from task-api, clients are still told when to come back.
    const unhinted = await get('/task/spent-no-hint', `Bearer ${TOKEN}`);
    expect([unhinted.status, unhinted.headers.get('retry-after')]).toEqual([429, '1']);
  });

  it('sends no challenge or Retry-After on other answers', async () => {
    const ok = await get(`/task/${ID}`, `Bearer ${TOKEN}`);
    expect([ok.headers.get('www-authenticate'), ok.headers.get('retry-after')]).toEqual([null, null]);
    const notFound = await get('/nope', `Bearer ${TOKEN}`);
    expect(notFound.status).toBe(404);
    expect(notFound.headers.get('www-authenticate')).toBeNull();
  });

  it('refuses a token over 8 KiB with 401 "token too large", up to the 60 KiB header limit, without calling task-api', async () => {
    seen.length = 0;
    const atLimit = `Bearer ${'x'.repeat(MAX_TOKEN_BYTES)}`;
    expect((await get(`/task/${ID}`, atLimit)).status).toBe(200);
    for (const size of [MAX_TOKEN_BYTES + 1, 20_000, MAX_REQUEST_HEADER_BYTES - 2_048]) {
      for (const path of [`/task/${ID}`, `/task/${ID}/watch`, '/no-such-route']) {
        const response = await get(path, `Bearer ${'x'.repeat(size)}`);
        expect(response.status, `${size} ${path}`).toBe(401);
        expect(response.headers.get('www-authenticate')).toBe(INVALID_TOKEN_CHALLENGE);
        expect(await response.json()).toEqual({ code: 16, message: `token too large (more than ${MAX_TOKEN_BYTES} bytes)`, details: [] });
      }
    }
    expect(seen).toEqual([atLimit]);
  });

  it('answers headers past the limit with 431, as Envoy does, and keeps serving', async () => {
    const response = await get(`/task/${ID}`, `Bearer ${'x'.repeat(MAX_REQUEST_HEADER_BYTES + 1)}`);
    expect(response.status).toBe(431);
    expect((await get(`/task/${ID}`, `Bearer ${TOKEN}`)).status).toBe(200);
  });

  it('never logs a token', async () => {
    expect(logged).toContain('"status":401');
    expect(logged).not.toContain(TOKEN);
    expect(logged).not.toContain('x'.repeat(64));
    expect(logged.toLowerCase()).not.toContain('authorization');
  });
});
