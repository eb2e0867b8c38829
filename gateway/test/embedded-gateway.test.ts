import { request as httpRequest } from 'node:http';
import { create } from '@bufbuild/protobuf';
import { TimestampSchema } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import { TaskSchema, TaskService, TaskStatus, type Task } from '@taskproc/contract';
import { createLogger } from '@taskproc/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../src/index.js';
import { startStubUpstream, type StubUpstream } from './support/stub-upstream.js';

// The embedded gateway in front of a stub TaskService: the REST mapping,
// printing, status mapping and limits, without a database. The REST
// contract suite (test/rest-contract.test.ts) runs it against the real system.

const ID = '0193f1f2-7c1e-7a55-9a0e-3f2b1c4d5e6f';
const CREATED_AT = create(TimestampSchema, { seconds: 1730102648n, nanos: 990161000 }); // 2024-10-28T08:04:08.990161Z
const UPDATED_AT = create(TimestampSchema, { seconds: 1730102650n, nanos: 100000000 }); // ...10.1Z: printed with 3 digits
const SLOW_CONTENT = 'take your time';

interface Seen {
  method: string;
  request: unknown;
  headers: Headers;
}

let upstream: StubUpstream;
let gateway: RunningGateway;
let seen: Seen[] = [];

function task(fields: Partial<Task>): Task {
  return { $typeName: 'taskproc.v1.Task', id: ID, content: '', status: TaskStatus.PENDING, createdAt: CREATED_AT, ...fields } as Task;
}

beforeAll(async () => {
  upstream = await startStubUpstream((router) =>
    router.service(TaskService, {
      async createTask(request, context) {
        seen.push({ method: 'CreateTask', request, headers: context.requestHeader });
        if (request.content === '') throw new ConnectError('content must be 1 to 65,536 UTF-8 bytes', Code.InvalidArgument);
        if (request.content === SLOW_CONTENT) await new Promise((resolve) => setTimeout(resolve, 2_000));
        return { task: task({ content: request.content }) };
      },
      getTask(request, context) {
        seen.push({ method: 'GetTask', request, headers: context.requestHeader });
        if (request.taskId === 'missing') throw new ConnectError(`task ${request.taskId} not found`, Code.NotFound);
        if (request.taskId === 'down') throw new ConnectError('database unavailable', Code.Unavailable);
        if (request.taskId === 'boom') throw new ConnectError('internal error', Code.Internal);
        if (request.taskId === 'detailed') {
          throw new ConnectError('task <odd> "detailed"', Code.FailedPrecondition, { 'x-extra': '1' }, [{ desc: TaskSchema, value: { id: 'detailed', content: 'a<b' } }]);
        }
        return { task: task({ id: request.taskId, status: TaskStatus.PROCESSING, updatedAt: UPDATED_AT }) };
      },
      cancelTask(request) {
        seen.push({ method: 'CancelTask', request, headers: new Headers() });
        if (request.taskId === 'done') throw new ConnectError('task is completed and cannot be canceled', Code.FailedPrecondition);
        return { task: task({ id: request.taskId, status: TaskStatus.CANCELED, updatedAt: UPDATED_AT }) };
      },
      checkHealth() {
        return { status: 'ok' };
      },
    }),
  );
  gateway = await startGateway(
    { host: '127.0.0.1', port: 0, upstreamUrl: upstream.url, logLevel: 'silent' },
    { logger: createLogger('gateway', 'silent'), requestTimeoutMs: 500 },
  );
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

beforeEach(() => {
  seen = [];
});

async function call(method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${gateway.url}${path}`, { method, body, headers: { 'content-type': 'application/json', ...headers } });
  return { status: response.status, contentType: response.headers.get('content-type'), text: await response.text() };
}

describe('embedded gateway: success responses', () => {
  it('POST /task answers 201 with the task in REST shape, printed as the transcoder prints it', async () => {
    const response = await call('POST', '/task', '{"content":"resize image 42"}');
    expect(response.status).toBe(201);
    expect(response.contentType).toBe('application/json');
    expect(response.text).toBe(
      `{"id":"${ID}","content":"resize image 42","status":"pending","created_at":"2024-10-28T08:04:08.990161Z","updated_at":null}`,
    );
    expect(seen).toMatchObject([{ method: 'CreateTask', request: { content: 'resize image 42' } }]);
  });

  it('escapes content as protobuf JSON does, and never changes it', async () => {
    const content = '<b>&"\\\n\u2028 😀 "status":"TASK_STATUS_PENDING" 2024-10-28T08:04:08Z';
    const response = await call('POST', '/task', JSON.stringify({ content }));
    expect(response.status).toBe(201);
    expect(response.text).toContain(String.raw`"content":"\u003cb\u003e&\"\\\n\u2028 😀 \"status\":\"TASK_STATUS_PENDING\" 2024-10-28T08:04:08Z"`);
    expect(JSON.parse(response.text).content).toBe(content);
  });

  it('GET /task/{task_id} binds the path variable, percent-decoded, and pads timestamps to microseconds', async () => {
    const response = await call('GET', '/task/a%20b');
    expect(response.status).toBe(200);
    expect(JSON.parse(response.text)).toEqual({
      id: 'a b',
      content: '',
      status: 'processing',
      created_at: '2024-10-28T08:04:08.990161Z',
      updated_at: '2024-10-28T08:04:10.100000Z',
    });
  });

  it('PATCH /task/{task_id}/cancel answers 200 with the canceled task', async () => {
    const response = await call('PATCH', `/task/${ID}/cancel`);
    expect(response.status).toBe(200);
    expect(JSON.parse(response.text)).toMatchObject({ id: ID, status: 'canceled', updated_at: '2024-10-28T08:04:10.100000Z' });
  });

  it('GET /health answers the message unchanged', async () => {
    const response = await call('GET', '/health');
    expect(response).toEqual({ status: 200, contentType: 'application/json', text: '{"status":"ok"}' });
  });

  it('an empty POST body is an empty request message, judged by the service', async () => {
    const response = await call('POST', '/task', '');
    expect(response.status).toBe(400);
    expect(JSON.parse(response.text)).toEqual({ code: 3, message: 'content must be 1 to 65,536 UTF-8 bytes', details: [] });
  });

  it('forwards request metadata and adds x-request-id and x-forwarded-for as Envoy does', async () => {
    await call('GET', `/task/${ID}`, undefined, { 'x-trace': 'abc' });
    const headers = seen[0]!.headers;
    expect(headers.get('x-trace')).toBe('abc');
    expect(headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(headers.get('x-forwarded-for')).toBe('127.0.0.1');
  });

  it("forwards a caller's W3C trace context as it came when tracing is off", async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await call('GET', `/task/${ID}`, undefined, { traceparent, tracestate: 'vendor=1' });
    const headers = seen[0]!.headers;
    expect(headers.get('traceparent')).toBe(traceparent);
    expect(headers.get('tracestate')).toBe('vendor=1');
  });
});

describe('embedded gateway: errors as google.rpc.Status with Envoy status mapping', () => {
  it.each([
    ['NOT_FOUND', '/task/missing', 404, { code: 5, message: 'task missing not found', details: [] }],
    ['UNAVAILABLE', '/task/down', 503, { code: 14, message: 'database unavailable', details: [] }],
    ['INTERNAL', '/task/boom', 500, { code: 13, message: 'internal error', details: [] }],
  ])('%s from the service', async (_name, path, status, body) => {
    const response = await call('GET', path);
    expect(response.status).toBe(status);
    expect(response.contentType).toBe('application/json');
    expect(JSON.parse(response.text)).toEqual(body);
  });

  it('an error with details is printed as the transcoder prints google.rpc.Status, the details as Any', async () => {
    const response = await call('GET', '/task/detailed');
    expect(response.status).toBe(400);
    expect(response.text).toBe(
      '{"code":9,"message":"task \\u003codd\\u003e \\"detailed\\"","details":[{"id":"detailed","content":"a\\u003cb","status":"TASK_STATUS_UNSPECIFIED","@type":"type.googleapis.com/taskproc.v1.Task"}]}',
    );
  });

  it('FAILED_PRECONDITION is 400 with code 9', async () => {
    const response = await call('PATCH', '/task/done/cancel');
    expect(response.status).toBe(400);
    expect(response.text).toBe('{"code":9,"message":"task is completed and cannot be canceled","details":[]}');
  });

  it.each([
    ['malformed JSON', 'POST', '/task', '{"content": '],
    ['content of the wrong type', 'POST', '/task', '{"content": 5}'],
    ['a JSON array', 'POST', '/task', '["x"]'],
    ['an unknown query parameter', 'GET', `/task/${ID}?verbose=1`, undefined],
  ])('%s is 400 with the fixed message, without reaching the service', async (_name, method, path, body) => {
    const response = await call(method, path, body);
    expect(response.status).toBe(400);
    expect(response.text).toBe('{"code":3,"message":"malformed request: the body or query string does not fit this route","details":[]}');
    expect(seen).toEqual([]);
  });

  it('an unknown body field is 400 naming it, without reaching the service (Envoy\'s Lua rule does the same)', async () => {
    const response = await call('POST', '/task', '{"content": "x", "priority": 1}');
    expect(response.status).toBe(400);
    expect(response.text).toBe('{"code":3,"message":"unknown field \\"priority\\" in the request body","details":[]}');
    expect(seen).toEqual([]);
  });

  it.each([
    ['an unknown path', 'GET', '/jobs'],
    ['an unknown method on a known path', 'DELETE', `/task/${ID}`],
    ['a path with an extra segment', 'GET', `/task/${ID}/extra`],
    // POST /taskproc.v1.TaskService/<Method> with a JSON body is a Connect
    // call, passed through to task-api (dashboard-routes.test.ts), as in Envoy.
  ])('%s is 404 with a Status body', async (_name, method, path) => {
    const response = await call(method, path);
    expect(response.status).toBe(404);
    expect(response.text).toBe('{"code":5,"message":"no route for this method and path","details":[]}');
  });

  it('a body over 1 MiB is 413 before the service is called', async () => {
    const response = await call('POST', '/task', JSON.stringify({ content: 'x'.repeat(1_048_576) }));
    expect(response.status).toBe(413);
    expect(response.text).toBe('{"code":8,"message":"request body larger than 1 MiB","details":[]}');
    expect(seen).toEqual([]);
  });

  it('a chunked body over 1 MiB is 413 too', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const request = httpRequest(`${gateway.url}/task`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      request.on('error', reject);
      for (let i = 0; i < 20; i += 1) request.write('x'.repeat(64 * 1024)); // no content-length: chunked
      request.end();
    });
    expect(status).toBe(413);
    expect(seen).toEqual([]);
  });

  it('a request the service does not answer in time is 504', async () => {
    const response = await call('POST', '/task', JSON.stringify({ content: SLOW_CONTENT }));
    expect(response.status).toBe(504);
    expect(response.text).toBe('{"code":4,"message":"upstream timed out","details":[]}');
  });
});

describe('embedded gateway: upstream down', () => {
  it('reaches task-api again once it is back on its address', async () => {
    const routes = (router: Parameters<Parameters<typeof startStubUpstream>[0]>[0]) =>
      router.service(TaskService, { checkHealth: () => ({ status: 'ok' }) } as never);
    let restarting = await startStubUpstream(routes);
    const port = Number(new URL(restarting.url).port);
    const front = await startGateway({ host: '127.0.0.1', port: 0, upstreamUrl: restarting.url, logLevel: 'silent' }, { logger: createLogger('gateway', 'silent') });
    try {
      expect((await fetch(`${front.url}/health`)).status).toBe(200);
      await restarting.close();
      expect((await fetch(`${front.url}/health`)).status).toBe(503);
      restarting = await startStubUpstream(routes, port);
      const health = await fetch(`${front.url}/health`);
      expect([health.status, await health.text()]).toEqual([200, '{"status":"ok"}']);
    } finally {
      await front.close();
      await restarting.close();
    }
  });

  it('answers 503 with a fixed message and no connection details', async () => {
    const stopped = await startStubUpstream(() => {});
    await stopped.close();
    const orphan = await startGateway(
      { host: '127.0.0.1', port: 0, upstreamUrl: stopped.url, logLevel: 'silent' },
      { logger: createLogger('gateway', 'silent') },
    );
    try {
      const response = await fetch(`${orphan.url}/task/${ID}`);
      expect(response.status).toBe(503);
      expect(await response.text()).toBe('{"code":14,"message":"upstream unavailable","details":[]}');
    } finally {
      await orphan.close();
      await orphan.close(); // repeat-safe
    }
  });
});
