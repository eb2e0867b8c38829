import { create } from '@bufbuild/protobuf';
import { TimestampSchema } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import { TaskService, TaskStatus, type Task } from '@taskproc/contract';
import { createLogger } from '@taskproc/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../src/index.js';
import { startStubUpstream, type StubUpstream } from './support/stub-upstream.js';

// The embedded gateway's Server-Sent Events route in front of a stub
// WatchTask: framing, the REST shape per event, keep-alives as comments,
// errors before the first event, and streams ended when the gateway stops.
// (test/rest-watching.test.ts runs it against the real system.)

const ID = '0193f1f2-7c1e-7a55-9a0e-3f2b1c4d5e6f';
const CREATED_AT = create(TimestampSchema, { seconds: 1730102648n, nanos: 990161000 });
const UPDATED_AT = create(TimestampSchema, { seconds: 1730102650n, nanos: 100000000 });

let upstream: StubUpstream;
let gateway: RunningGateway;
let releaseEndless: () => void = () => {};

function task(fields: Partial<Task>): Task {
  return { $typeName: 'taskproc.v1.Task', id: ID, content: 'x', status: TaskStatus.PENDING, createdAt: CREATED_AT, ...fields } as Task;
}

beforeAll(async () => {
  upstream = await startStubUpstream((router) =>
    router.service(TaskService, {
      async *watchTask(request, context) {
        if (request.taskId === 'missing') throw new ConnectError('task missing not found', Code.NotFound);
        yield { task: task({ id: request.taskId }) };
        yield {}; // task-api's keep-alive
        if (request.taskId === 'endless') {
          await new Promise<void>((resolve) => {
            releaseEndless = resolve;
            context.signal.addEventListener('abort', () => resolve());
          });
          return;
        }
        yield { task: task({ id: request.taskId, status: TaskStatus.COMPLETED, updatedAt: UPDATED_AT }) };
      },
    }),
  );
  gateway = await startGateway(
    { host: '127.0.0.1', port: 0, upstreamUrl: upstream.url, logLevel: 'silent' },
    { logger: createLogger('gateway', 'silent'), requestTimeoutMs: 500, shutdownGraceMs: 30_000 },
  );
});

afterAll(async () => {
  releaseEndless();
  await gateway?.close();
  await upstream?.close();
});

describe('embedded gateway: GET /task/{task_id}/watch', () => {
  it('streams each message as one SSE event in REST shape, keep-alives as comments', async () => {
    const response = await fetch(`${gateway.url}/task/${ID}/watch`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(await response.text()).toBe(
      `data: {"id":"${ID}","content":"x","status":"pending","created_at":"2024-10-28T08:04:08.990161Z","updated_at":null}\n\n` +
        ': keep-alive\n\n' +
        `data: {"id":"${ID}","content":"x","status":"completed","created_at":"2024-10-28T08:04:08.990161Z","updated_at":"2024-10-28T08:04:10.100000Z"}\n\n`,
    );
  });

  it('answers an error before the first event as a plain JSON Status', async () => {
    const response = await fetch(`${gateway.url}/task/missing/watch`);
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toEqual({ code: 5, message: 'task missing not found', details: [] });
  });

  it('ends open event streams when the gateway stops', async () => {
    const own = await startGateway(
      { host: '127.0.0.1', port: 0, upstreamUrl: upstream.url, logLevel: 'silent' },
      { logger: createLogger('gateway', 'silent'), shutdownGraceMs: 30_000 },
    );
    const response = await fetch(`${own.url}/task/endless/watch`);
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toMatch(/^data: /);
    const started = performance.now();
    await own.close();
    let text = '';
    for (let next = await reader.read(); !next.done; next = await reader.read()) text += new TextDecoder().decode(next.value);
    expect(text).not.toMatch(/data: /);
    // Well within the 30 s grace: the stream was ended, not cut at the deadline.
    expect(performance.now() - started).toBeLessThan(25_000);
  });
});
