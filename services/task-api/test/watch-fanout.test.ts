import http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { TaskService, TaskStatus } from '@taskproc/contract';
import { TaskStore, openOrm } from '@taskproc/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import { WATCH_SERVER_FULL_RETRY_AFTER_S } from '../src/watching/watch-handlers.js';
import { startTaskApiHarness, type TaskApiHarness } from '../../../test/support/task-api-harness.js';
import { waitFor } from '../../../test/support/wait-for.js';

// Watching at scale on one task-api: a thousand watchers share one listening
// connection, the process limit answers RESOURCE_EXHAUSTED, watchers that
// stop reading are cut off with bounded buffers, and shutdown ends streams.

const WATCHERS = 1_000;
const BUFFER = 16;

let harness: TaskApiHarness;
let orm: MikroORM;
let store: TaskStore;
let client: Client<typeof TaskService>;

beforeAll(async () => {
  harness = await startTaskApiHarness('watch_fanout', (env) => ({
    ...env,
    WATCH_MAX_STREAMS: String(WATCHERS),
    WATCH_STREAM_BUFFER_MESSAGES: String(BUFFER),
  }));
  orm = await openOrm({ databaseUrl: harness.database.url, poolSize: 2 });
  store = new TaskStore(orm);
  client = createClient(TaskService, createGrpcTransport({ baseUrl: harness.api.url }));
});

afterAll(async () => {
  await orm?.close();
  await harness?.close();
});

const listeningBackends = async () =>
  Number(
    (
      await harness.database.query<{ n: string }>(
        `select count(*) as n from pg_stat_activity where datname = current_database() and application_name = 'taskproc-task-api-watch'`,
      )
    )[0]!.n,
  );

describe('a thousand watchers', () => {
  it('all see every change of the task, through one listening connection; one more is RESOURCE_EXHAUSTED', async () => {
    const { task } = await client.createTask({ content: 'popular' });
    const id = task!.id;
    const seen: string[][] = Array.from({ length: WATCHERS }, () => []);
    const watching = seen.map(async (into) => {
      for await (const message of client.watchTask({ taskId: id })) {
        if (message.task) into.push(TaskStatus[message.task.status]);
      }
    });
    await waitFor(() => seen.filter((s) => s.length > 0).length, (n) => n === WATCHERS, { timeoutMs: 60_000, description: 'every first message' });
    expect(harness.api.watchStats().streams).toBe(WATCHERS);

    let extra: { code: Code; retryAfter: string | null; message: string } | 'OK' = 'OK';
    try {
      for await (const _ of client.watchTask({ taskId: id })) break;
    } catch (error) {
      const refusal = ConnectError.from(error);
      extra = { code: refusal.code, retryAfter: refusal.metadata.get('retry-after'), message: refusal.rawMessage };
    }
    expect(extra).toEqual({
      code: Code.ResourceExhausted,
      retryAfter: String(WATCH_SERVER_FULL_RETRY_AFTER_S),
      message: `this server already serves ${WATCHERS} watch streams; try again later`,
    });

    expect(await listeningBackends()).toBe(1);
    const claim = await store.claim(id, { reclaim: false });
    await store.completeIfHeld(id, claim!.attempt);
    await Promise.all(watching);
    for (const statuses of seen) expect(statuses).toEqual(['PENDING', 'PROCESSING', 'COMPLETED']);
    await waitFor(() => harness.api.watchStats().streams, (n) => n === 0, { description: 'every stream released' });
  }, 120_000);
});

/** A raw gRPC call of WatchTasks whose client reads nothing until told to. */
function stalledWatcher(baseUrl: string) {
  const session = http2.connect(baseUrl, { settings: { initialWindowSize: 1_024 } });
  const stream = session.request({ ':method': 'POST', ':path': '/taskproc.v1.TaskService/WatchTasks', 'content-type': 'application/grpc', te: 'trailers' });
  stream.end(Buffer.from([0, 0, 0, 0, 0]));
  const trailers = new Promise<http2.IncomingHttpHeaders | 'reset'>((resolve) => {
    stream.on('trailers', (headers) => resolve(headers));
    stream.on('close', () => resolve('reset'));
    stream.on('error', () => resolve('reset'));
  });
  return {
    trailers,
    read: () => stream.resume(),
    close: () => session.destroy(),
  };
}

describe('watchers that stop reading', () => {
  it('are cut off once their buffer is full, with bounded buffers; a stalled one is reset', async () => {
    const cutOffBefore = harness.api.watchStats().cutOff;
    const resumes = stalledWatcher(harness.api.url);
    const never = stalledWatcher(harness.api.url);
    await waitFor(() => harness.api.watchStats().streams, (n) => n === 2, { description: 'two watch streams' });
    // Far more changes than fit in the socket buffers and the stream windows.
    await harness.database.query(
      `insert into task (id, content, status, attempt) select gen_random_uuid(), repeat('x', 1000), 'pending', 0 from generate_series(1, 3000)`,
    );
    await waitFor(() => harness.api.watchStats().cutOff - cutOffBefore, (n) => n === 2, { timeoutMs: 30_000, description: 'both watchers cut off' });
    expect(harness.api.watchStats().buffered).toBeLessThanOrEqual(2 * BUFFER);
    resumes.read();
    const status = await resumes.trailers;

    expect(status).not.toBe('reset');
    expect((status as http2.IncomingHttpHeaders)['grpc-status']).toBe(String(Code.Unavailable));
    expect(decodeURIComponent(String((status as http2.IncomingHttpHeaders)['grpc-message']))).toMatch(/fell behind/);
    expect(await never.trailers).toBe('reset');

    await waitFor(() => harness.api.watchStats().streams, (n) => n === 0, { timeoutMs: 30_000, description: 'both streams released' });
    resumes.close();
    never.close();
  }, 120_000);
});

describe('keep-alives', () => {
  it('sends a message without a task when a watch has been quiet for WATCH_KEEPALIVE_MS', async () => {
    const own = await startTaskApiHarness('watch_keepalive', (env) => ({ ...env, WATCH_KEEPALIVE_MS: '200' }));
    try {
      const ownClient = createClient(TaskService, createGrpcTransport({ baseUrl: own.api.url }));
      const { task } = await ownClient.createTask({ content: 'quiet' });
      const seen: string[] = [];
      const stop = new AbortController();
      const watching = (async () => {
        try {
          for await (const message of ownClient.watchTask({ taskId: task!.id }, { signal: stop.signal })) {
            seen.push(message.task ? TaskStatus[message.task.status] : 'keep-alive');
            if (seen.length === 3) stop.abort();
          }
        } catch (error) {
          if (ConnectError.from(error).code !== Code.Canceled) throw error;
        }
      })();
      await watching;
      expect(seen).toEqual(['PENDING', 'keep-alive', 'keep-alive']);
    } finally {
      await own.close();
    }
  });
});

describe('shutdown', () => {
  it('ends open watch streams with UNAVAILABLE', async () => {
    const own = await startTaskApiHarness('watch_shutdown');
    try {
      const ownClient = createClient(TaskService, createGrpcTransport({ baseUrl: own.api.url }));
      const { task } = await ownClient.createTask({ content: 'watched at shutdown' });
      const messages: number[] = [];
      const ended = (async () => {
        try {
          for await (const message of ownClient.watchTask({ taskId: task!.id })) if (message.task) messages.push(message.task.status);
          return 'OK';
        } catch (error) {
          return ConnectError.from(error).code;
        }
      })();
      await waitFor(() => messages.length, (n) => n === 1, { description: 'the first message' });
      await own.api.close();
      expect(await ended).toBe(Code.Unavailable);
    } finally {
      await own.close();
    }
  });
});
