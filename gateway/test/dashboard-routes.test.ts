import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { createConnectTransport } from '@connectrpc/connect-web';
import { TaskService, TaskStatus } from '@taskproc/contract';
import { createLogger } from '@taskproc/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../src/index.js';

// What the embedded gateway serves beside REST for the dashboard: its built
// files under /ui/, and Connect-protocol calls passed through to task-api
// (here a stub TaskService on HTTP/1.1, as task-api also speaks it),
// unary and streaming, chunk by chunk.

let uiDir: string;
let upstream: Server;
let gateway: RunningGateway;
let releaseSecond: () => void = () => {};
let streamEnded: Promise<string>;
let markStreamEnded: (how: string) => void = () => {};

beforeAll(async () => {
  uiDir = await mkdtemp(join(tmpdir(), 'gateway-ui-'));
  await mkdir(join(uiDir, 'assets'));
  await writeFile(join(uiDir, 'index.html'), '<!doctype html><title>dashboard</title>');
  await writeFile(join(uiDir, 'assets', 'index-abc123.js'), 'console.log("hi")');
  await writeFile(join(uiDir, '..', 'gateway-ui-secret.txt'), 'secret').catch(() => {});

  upstream = createServer(
    connectNodeAdapter({
      routes: (router) =>
        router.service(TaskService, {
          createTask(request) {
            if (request.content === '') throw new ConnectError('content must not be empty', Code.InvalidArgument);
            return { task: { id: 'one', content: request.content, status: TaskStatus.PENDING } };
          },
          async *watchTask(request) {
            // Quiet for longer than a connection gets to connect (2 s): a
            // stream on a kept-alive upstream connection must not be cut.
            yield { task: { id: request.taskId, status: TaskStatus.PENDING } };
            await new Promise((resolve) => setTimeout(resolve, 2_500));
            yield { task: { id: request.taskId, status: TaskStatus.COMPLETED } };
          },
          async *watchTasks(_request, context) {
            streamEnded = new Promise((resolve) => (markStreamEnded = resolve));
            context.signal.addEventListener('abort', () => markStreamEnded('aborted'));
            yield { task: { id: 'first', status: TaskStatus.PENDING } };
            // The second message only once the client has read the first: a
            // gateway that buffered the stream would never deliver it.
            await new Promise<void>((resolve) => (releaseSecond = resolve));
            yield { task: { id: 'second', status: TaskStatus.COMPLETED } };
            await new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve()));
          },
        }),
    }),
  );
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const port = (upstream.address() as AddressInfo).port;
  gateway = await startGateway(
    { host: '127.0.0.1', port: 0, upstreamUrl: `http://127.0.0.1:${port}`, logLevel: 'silent', uiDir },
    { logger: createLogger('gateway', 'silent') },
  );
});

afterAll(async () => {
  await gateway?.close();
  upstream?.closeAllConnections();
  await new Promise<void>((resolve) => upstream?.close(() => resolve()));
  await rm(uiDir, { recursive: true, force: true });
  await rm(join(uiDir, '..', 'gateway-ui-secret.txt'), { force: true });
});

async function get(path: string, method = 'GET') {
  const response = await fetch(`${gateway.url}${path}`, { method, redirect: 'manual' });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

describe('embedded gateway: the dashboard under /ui/', () => {
  it('serves index.html for /ui/, revalidated on every load', async () => {
    const page = await get('/ui/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.text).toContain('<title>dashboard</title>');
    expect((await get('/ui/?from=bookmark')).status).toBe(200);
  });

  it('redirects /ui to /ui/', async () => {
    const answer = await get('/ui');
    expect(answer.status).toBe(308);
    expect(answer.headers.get('location')).toBe('/ui/');
  });

  it('serves hashed assets with their type, cacheable for good', async () => {
    const asset = await get('/ui/assets/index-abc123.js');
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.text).toBe('console.log("hi")');
    const head = await get('/ui/assets/index-abc123.js', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String('console.log("hi")'.length));
  });

  it.each(['/ui/../gateway-ui-secret.txt', '/ui/%2e%2e/gateway-ui-secret.txt', '/ui/assets/%2e%2e/%2e%2e/gateway-ui-secret.txt', '/ui/assets', '/ui/missing.js'])(
    'answers 404 for %s (nothing outside the folder, no directories)',
    async (path) => {
      const answer = await get(path);
      expect(answer.status).toBe(404);
      expect(answer.text).not.toContain('secret');
    },
  );

  it('answers 400 for a malformed path and 405 for other methods', async () => {
    expect((await get('/ui/%E0%A4%A')).status).toBe(400);
    expect((await get('/ui/%00')).status).toBe(400);
    const post = await get('/ui/', 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('says how to build the dashboard when it is not built', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'gateway-ui-empty-'));
    const bare = await startGateway(
      { host: '127.0.0.1', port: 0, upstreamUrl: 'http://127.0.0.1:9', logLevel: 'silent', uiDir: empty },
      { logger: createLogger('gateway', 'silent') },
    );
    try {
      const answer = await fetch(`${bare.url}/ui/`);
      expect(answer.status).toBe(404);
      expect(await answer.text()).toMatch(/make dashboard/);
    } finally {
      await bare.close();
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe('embedded gateway: Connect calls pass through to task-api', () => {
  const client = () => createClient(TaskService, createConnectTransport({ baseUrl: gateway.url, useBinaryFormat: true }));

  it('passes unary calls, JSON and binary, and keeps task-api\'s error code and message', async () => {
    expect((await client().createTask({ content: 'hello' })).task?.content).toBe('hello');
    const json = createClient(TaskService, createConnectTransport({ baseUrl: gateway.url }));
    expect((await json.createTask({ content: 'json' })).task?.content).toBe('json');
    const error = await client()
      .createTask({ content: '' })
      .catch((e: unknown) => ConnectError.from(e));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.InvalidArgument);
    expect((error as ConnectError).rawMessage).toBe('content must not be empty');
  });

  it('streams server messages as they come, and ends the upstream call when the browser goes away', async () => {
    const abort = new AbortController();
    const stream = client().watchTasks({}, { signal: abort.signal })[Symbol.asyncIterator]();
    expect((await stream.next()).value?.task?.id).toBe('first');
    releaseSecond();
    expect((await stream.next()).value?.task?.id).toBe('second');
    abort.abort();
    await expect(stream.next()).rejects.toThrow();
    expect(await streamEnded).toBe('aborted');
  });

  it('keeps a quiet stream open on a kept-alive upstream connection', async () => {
    // A unary call first, so the stream reuses its upstream connection.
    await client().createTask({ content: 'warm up' });
    const statuses: TaskStatus[] = [];
    for await (const message of client().watchTask({ taskId: 'quiet' })) statuses.push(message.task!.status);
    expect(statuses).toEqual([TaskStatus.PENDING, TaskStatus.COMPLETED]);
  });

  it('refuses gRPC here (415) and answers UNAVAILABLE when task-api cannot be reached', async () => {
    const grpc = await fetch(`${gateway.url}/taskproc.v1.TaskService/CreateTask`, {
      method: 'POST',
      headers: { 'content-type': 'application/grpc' },
      body: new Uint8Array(5),
    });
    expect(grpc.status).toBe(415);
    await grpc.text();

    const orphan = await startGateway(
      { host: '127.0.0.1', port: 0, upstreamUrl: 'http://127.0.0.1:9', logLevel: 'silent', uiDir },
      { logger: createLogger('gateway', 'silent') },
    );
    try {
      const unreachable = createClient(TaskService, createConnectTransport({ baseUrl: orphan.url }));
      const error = await unreachable.createTask({ content: 'x' }).catch((e: unknown) => ConnectError.from(e));
      expect((error as ConnectError).code).toBe(Code.Unavailable);
      expect((error as ConnectError).rawMessage).toBe('upstream unavailable');
    } finally {
      await orphan.close();
    }
  });
});
