import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, createRouterTransport, type ConnectRouter, type HandlerContext } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { TaskSchema, TaskService, TaskStatus } from '@taskproc/contract';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ResourceExhaustedError,
  TaskClientError,
  UnauthenticatedError,
  createTaskClient,
  createTaskClientFromTransport,
  bearerTokenInterceptor,
  type TaskClient,
  type TokenSource,
} from '../src/index.js';
import { createTaskClient as createWebTaskClient } from '../src/web.js';

// The client's `token` option against a TaskService of the test's own, on
// real HTTP/1.1 and HTTP/2 servers: the header reaches every call (unary and
// streams, every transport, both entries), a function is asked again for
// each call, and the service's UNAUTHENTICATED and RESOURCE_EXHAUSTED come
// back as their own error classes, with the retry-after the service sent.

const TOKEN = 'header.payload.signature';
const TASK_ID = '6f1b8c1e-4a4e-4c8a-9d53-0d1c2b3a4f5e';

/** The authorization header of every call the service received, in order ('' for none). */
const received: string[] = [];

function authorize(context: HandlerContext): string {
  const header = context.requestHeader.get('authorization') ?? '';
  received.push(header);
  if (!header.startsWith('Bearer ')) throw new ConnectError('missing bearer token', Code.Unauthenticated);
  return header.slice('Bearer '.length);
}

function routes(router: ConnectRouter): void {
  router.service(TaskService, {
    getTask(request, context) {
      authorize(context);
      return { task: create(TaskSchema, { id: request.taskId, content: 'seen', status: TaskStatus.PENDING }) };
    },
    async *watchTask(request, context) {
      authorize(context);
      yield { task: create(TaskSchema, { id: request.taskId, content: 'seen', status: TaskStatus.CANCELED }) };
    },
    createTask(_request, context) {
      authorize(context);
      throw new ConnectError('request budget spent', Code.ResourceExhausted, { 'retry-after': '7' });
    },
  });
}

const servers: { close(): void }[] = [];
let http1Url: string;
let http2Url: string;

async function listen(server: http.Server | http2.Http2Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  http1Url = await listen(http.createServer(connectNodeAdapter({ routes })));
  http2Url = await listen(http2.createServer(connectNodeAdapter({ routes })));
});

afterAll(() => {
  for (const server of servers) server.close();
});

const variants: [string, (token: TokenSource | undefined) => TaskClient][] = [
  ['node grpc', (token) => createTaskClient({ baseUrl: http2Url, transport: 'grpc', token })],
  ['node connect', (token) => createTaskClient({ baseUrl: http1Url, transport: 'connect', token })],
  ['node grpc-web', (token) => createTaskClient({ baseUrl: http1Url, transport: 'grpc-web', token })],
  ['node connect over HTTP/2', (token) => createTaskClient({ baseUrl: http2Url, transport: 'connect', httpVersion: '2', token })],
  ['web (fetch) connect', (token) => createWebTaskClient({ baseUrl: http1Url, transport: 'connect', token })],
  ['web (fetch) grpc-web', (token) => createWebTaskClient({ baseUrl: http1Url, transport: 'grpc-web', token })],
];

describe.each(variants)('the token option, %s', (_name, connect) => {
  it('sends the token as a bearer authorization header with unary calls and streams', async () => {
    const client = connect(TOKEN);
    try {
      received.length = 0;
      expect((await client.getTask({ taskId: TASK_ID })).task?.content).toBe('seen');
      const watched = [];
      for await (const message of client.watchTask({ taskId: TASK_ID })) watched.push(message.task?.status);
      expect(watched).toEqual([TaskStatus.CANCELED]);
      expect(received).toEqual([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`]);
    } finally {
      client.close();
    }
  });

  it('asks a token function again before each call, so a caller can refresh it', async () => {
    let issued = 0;
    const client = connect(async () => `token-${++issued}`);
    try {
      received.length = 0;
      await client.getTask({ taskId: TASK_ID });
      for await (const _message of client.watchTask({ taskId: TASK_ID }));
      await client.getTask({ taskId: TASK_ID });
      expect(received).toEqual(['Bearer token-1', 'Bearer token-2', 'Bearer token-3']);
    } finally {
      client.close();
    }
  });

  it('sends no header without a token, or with an empty one, and the refusal is an UnauthenticatedError', async () => {
    for (const token of [undefined, '', () => '  ']) {
      const client = connect(token);
      try {
        received.length = 0;
        const refused = await client.getTask({ taskId: TASK_ID }).catch((error: unknown) => error);
        expect(refused).toBeInstanceOf(UnauthenticatedError);
        expect(refused).toMatchObject({ code: Code.Unauthenticated, codeName: 'UNAUTHENTICATED', message: 'missing bearer token' });
        const stream = (async () => {
          for await (const _message of client.watchTask({ taskId: TASK_ID }));
        })();
        await expect(stream).rejects.toBeInstanceOf(UnauthenticatedError);
        expect(received).toEqual(['', '']);
      } finally {
        client.close();
      }
    }
  });

  it("answers a spent budget with a ResourceExhaustedError carrying the service's retry-after", async () => {
    const client = connect(TOKEN);
    try {
      const refused = await client.createTask({ content: 'x' }).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(ResourceExhaustedError);
      expect(refused).toMatchObject({ codeName: 'RESOURCE_EXHAUSTED', message: 'request budget spent', retryAfterSeconds: 7 });
    } finally {
      client.close();
    }
  });
});

describe('bearerTokenInterceptor', () => {
  it('trims what a file or $(...) leaves around the token, and lets other interceptors follow', async () => {
    const seen: string[] = [];
    const transport = createRouterTransport(routes, {
      transport: {
        interceptors: [
          bearerTokenInterceptor(`  ${TOKEN}\n`),
          (next) => (request) => {
            seen.push(request.header.get('authorization') ?? '');
            return next(request);
          },
        ],
      },
    });
    received.length = 0;
    await createTaskClientFromTransport(transport).getTask({ taskId: TASK_ID });
    expect({ seen, received }).toEqual({ seen: [`Bearer ${TOKEN}`], received: [`Bearer ${TOKEN}`] });
  });

  it('fails the call with the token function\'s own error, before anything is sent', async () => {
    const transport = createRouterTransport(routes, {
      transport: { interceptors: [bearerTokenInterceptor(() => Promise.reject(new Error('token refresh failed')))] },
    });
    received.length = 0;
    const failed = await createTaskClientFromTransport(transport).getTask({ taskId: TASK_ID }).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(TaskClientError);
    expect((failed as TaskClientError).message).toBe('token refresh failed');
    expect(received).toEqual([]);
  });

  it('gives no retry-after when the service sent none, or sent something other than seconds', () => {
    for (const metadata of [undefined, { 'retry-after': 'Wed, 21 Oct 2026 07:28:00 GMT' }, { 'retry-after': '-1' }]) {
      const error = new ResourceExhaustedError('x', Code.ResourceExhausted, { cause: new ConnectError('x', Code.ResourceExhausted, metadata) });
      expect(error.retryAfterSeconds).toBeUndefined();
    }
  });
});
