import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PgListener, type ListenGap, type PgListenerOptions } from '@taskproc/core';
import { captureLogs, type CapturedLogs } from '../../../test/support/log-capture.js';
import { createTestDatabase, type TestDatabase } from '../../../test/support/test-database.js';
import { loadTestEnv } from '../../../test/support/test-env.js';
import { waitFor } from '../../../test/support/wait-for.js';

// The reconnecting LISTEN connection the services share, against a real
// PostgreSQL (a database of this file's own, so its notices reach no one
// else) and against ports where no PostgreSQL answers.

const APPLICATION_NAME = 'taskproc-test-pg-listener';

let db: TestDatabase;
const opened: PgListener[] = [];

beforeAll(async () => {
  db = await createTestDatabase(loadTestEnv().DATABASE_URL!, 'pg_listener');
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((listener) => listener.close()));
});

afterAll(async () => {
  await db?.drop();
});

interface Heard {
  listener: PgListener;
  logs: CapturedLogs;
  notices: { channel: string; payload: string | undefined }[];
  gaps: (ListenGap | null)[];
}

function listen(overrides: Partial<PgListenerOptions> = {}): Heard {
  const logs = captureLogs();
  const heard: Omit<Heard, 'listener'> = { logs, notices: [], gaps: [] };
  const listener = new PgListener({
    databaseUrl: db.url,
    connectTimeoutMs: 2_000,
    queryTimeoutMs: 2_000,
    closeTimeoutMs: 1_000,
    channels: ['pgl_first', 'pgl_second'],
    applicationName: APPLICATION_NAME,
    name: 'test listener',
    logger: logs.logger,
    pingIntervalMs: 1_000,
    backoff: { baseMs: 20, maxMs: 100 },
    onNotice: (channel, payload) => heard.notices.push({ channel, payload }),
    onListening: (gap) => heard.gaps.push(gap),
    ...overrides,
  });
  opened.push(listener);
  listener.start();
  return { ...heard, listener };
}

const backends = () =>
  db.query<{ pid: number }>(`select pid from pg_stat_activity where datname = current_database() and application_name = $1`, [APPLICATION_NAME]);

/** A port that was free a moment ago: connecting to it is refused. */
async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A server that accepts connections and never answers, as a black-holed host does. */
async function silentServer(): Promise<{ url: string; accepted: Socket[]; server: Server }> {
  const accepted: Socket[] = [];
  const server = createServer((socket) => {
    socket.on('error', () => {});
    accepted.push(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `postgres://postgres@127.0.0.1:${port}/nowhere`, accepted, server };
}

const failuresLogged = (logs: CapturedLogs) => logs.matching('test listener cannot reach PostgreSQL').length;

describe('PgListener', () => {
  it('hears the notices of each of its channels, and of no other', async () => {
    const { listener, notices, gaps, logs } = listen();
    await listener.ready;
    expect(listener.listening).toBe(true);
    expect(gaps).toEqual([null]);
    await db.query(`select pg_notify('pgl_first', 'one'), pg_notify('pgl_elsewhere', 'unheard'), pg_notify('pgl_second', 'two')`);
    await waitFor(() => notices.length, (n) => n >= 2, { description: 'both notices' });
    expect(notices).toEqual([
      { channel: 'pgl_first', payload: 'one' },
      { channel: 'pgl_second', payload: 'two' },
    ]);
    expect(logs.matching('test listener')).toEqual([]); // no warning
  });

  it('after its backend is terminated, reconnects, reports the gap and hears again', async () => {
    const { listener, notices, gaps, logs } = listen();
    await listener.ready;
    const [before] = await backends();
    await db.query('select pg_terminate_backend($1)', [before!.pid]);

    await waitFor(() => gaps.length, (n) => n === 2, { description: 'listening again' });
    expect(gaps[1]!.downForMs).toBeGreaterThanOrEqual(0);
    expect(logs.matching('test listener disconnected; reconnecting')).toHaveLength(1);
    const after = await backends();
    expect(after).toHaveLength(1);
    expect(after[0]!.pid).not.toBe(before!.pid);

    await db.query(`select pg_notify('pgl_second', 'after the reconnect')`);
    await waitFor(() => notices, (n) => n.some((notice) => notice.payload === 'after the reconnect'), { description: 'the notice after the reconnect' });
  });

  it('close() is repeat-safe, ends the connection and ends the reconnect attempts', async () => {
    const connected = listen();
    await connected.listener.ready;
    const first = connected.listener.close();
    expect(connected.listener.close()).toBe(first);
    await first;
    expect(connected.listener.listening).toBe(false);
    await waitFor(backends, (rows) => rows.length === 0, { description: 'no listening backend left' });

    const failing = listen({ databaseUrl: `postgres://postgres@127.0.0.1:${await refusedPort()}/nowhere`, backoff: { baseMs: 10, maxMs: 10 } });
    await waitFor(() => failuresLogged(failing.logs), (n) => n >= 3, { description: 'reconnect attempts' });
    await Promise.all([failing.listener.close(), failing.listener.close()]);
    const attemptsAtClose = failuresLogged(failing.logs);
    // A second listener retrying on the same schedule measures out a few
    // periods in which the closed one would have tried again.
    const control = listen({ databaseUrl: `postgres://postgres@127.0.0.1:${await refusedPort()}/nowhere`, backoff: { baseMs: 10, maxMs: 10 } });
    await waitFor(() => failuresLogged(control.logs), (n) => n >= 5, { description: 'the control listener retrying' });
    expect(failuresLogged(failing.logs)).toBe(attemptsAtClose);
  });

  it('gives up on a connect that gets no answer after connectTimeoutMs, and closes within closeTimeoutMs during one', async () => {
    const silent = await silentServer();
    try {
      const startedAt = performance.now();
      const bounded = listen({ databaseUrl: silent.url, connectTimeoutMs: 300, backoff: { baseMs: 60_000, maxMs: 60_000 } });
      await waitFor(() => failuresLogged(bounded.logs), (n) => n === 1, { timeoutMs: 5_000, description: 'the connect timing out' });
      const waited = performance.now() - startedAt;
      expect(waited).toBeGreaterThanOrEqual(250);
      expect(waited).toBeLessThan(2_000);
      expect(bounded.logs.matching('cannot reach PostgreSQL')[0]).toMatchObject({ failures: 1, err: { message: 'timeout expired' } });

      // Closing while a connect hangs (and the connect's own bound is far off).
      const hanging = listen({ databaseUrl: silent.url, connectTimeoutMs: 60_000, closeTimeoutMs: 300 });
      await waitFor(() => silent.accepted.length, (n) => n >= 2, { description: 'the second connect accepted' });
      const closingAt = performance.now();
      await hanging.listener.close();
      expect(performance.now() - closingAt).toBeLessThan(1_500);
      expect(failuresLogged(hanging.logs)).toBe(0); // a shutdown is not an outage
    } finally {
      for (const socket of silent.accepted) socket.destroy();
      await new Promise<void>((resolve) => silent.server.close(() => resolve()));
    }
  });
});
