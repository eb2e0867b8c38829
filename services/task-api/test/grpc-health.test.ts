import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { createClient, createRouterTransport, Code, ConnectError, type Client } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { health } from '@taskproc/contract';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/support/wait-for.js';
import { createHealthService, type HealthServiceOptions } from '../src/grpc-health.js';

const { SERVING, NOT_SERVING, SERVICE_UNKNOWN } = health.HealthCheckResponse_ServingStatus;
const TASK_SERVICE = 'taskproc.v1.TaskService';

/** A database probe the test flips at will, counting how often it runs. */
function controllableProbe() {
  const state = { up: true, calls: 0 };
  const probe = async (): Promise<boolean> => {
    state.calls++;
    return state.up;
  };
  return { state, probe };
}

const watches: AbortController[] = [];
afterEach(() => watches.splice(0).forEach((watch) => watch.abort()));

function clientFor(options: HealthServiceOptions, onWatchEnd?: () => void): Client<typeof health.Health> {
  const service = createHealthService(options);
  // Wraps Watch only to observe, from the server side, that the stream ended.
  const observed: typeof service = {
    ...service,
    async *watch(request, context) {
      try {
        yield* service.watch(request, context);
      } finally {
        onWatchEnd?.();
      }
    },
  };
  const transport = createRouterTransport(({ service: register }) => register(health.Health, observed));
  return createClient(health.Health, transport);
}

/** Starts a Watch and collects the statuses it receives until the test aborts it. */
function watch(client: Client<typeof health.Health>, service: string) {
  const controller = new AbortController();
  watches.push(controller);
  const seen: number[] = [];
  const done = (async () => {
    try {
      for await (const response of client.watch({ service }, { signal: controller.signal })) seen.push(response.status);
    } catch (error) {
      if (ConnectError.from(error).code !== Code.Canceled) throw error;
    }
  })();
  return { seen, stop: () => controller.abort(), done };
}

describe('grpc.health.v1.Health', () => {
  it('answers SERVING for the server and each service while the database is reachable', async () => {
    const { probe } = controllableProbe();
    const client = clientFor({ probe, services: [TASK_SERVICE] });

    expect((await client.check({ service: '' })).status).toBe(SERVING);
    expect((await client.check({ service: TASK_SERVICE })).status).toBe(SERVING);
  });

  it('answers NOT_SERVING when the probe fails or throws', async () => {
    const { state, probe } = controllableProbe();
    const client = clientFor({ probe, services: [TASK_SERVICE] });
    state.up = false;
    expect((await client.check({ service: TASK_SERVICE })).status).toBe(NOT_SERVING);

    const throwing = clientFor({ probe: () => Promise.reject(new Error('connection refused')), services: [] });
    expect((await throwing.check({ service: '' })).status).toBe(NOT_SERVING);
  });

  it('fails Check for an unknown service with NOT_FOUND', async () => {
    const { probe } = controllableProbe();
    const client = clientFor({ probe, services: [TASK_SERVICE] });

    const error = await client.check({ service: 'no.such.Service' }).catch((e: unknown) => ConnectError.from(e));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.NotFound);
  });

  it('shares one probe in flight among concurrent checks', async () => {
    let release!: (up: boolean) => void;
    let calls = 0;
    const probe = () => {
      calls++;
      return new Promise<boolean>((resolve) => (release = resolve));
    };
    const client = clientFor({ probe, services: [TASK_SERVICE] });

    const checks = Promise.all([1, 2, 3, 4, 5].map(() => client.check({ service: TASK_SERVICE })));
    await waitFor(() => calls, (n) => n > 0, { description: 'the probe to start' });
    release(true);
    const answers = await checks;

    expect(calls).toBe(1);
    expect(answers.map((a) => a.status)).toEqual([SERVING, SERVING, SERVING, SERVING, SERVING]);
  });

  it('lists the status of the server and every service', async () => {
    const { probe } = controllableProbe();
    const client = clientFor({ probe, services: [TASK_SERVICE] });

    const { statuses } = await client.list({});
    expect(Object.fromEntries(Object.entries(statuses).map(([name, s]) => [name, s.status]))).toEqual({
      '': SERVING,
      [TASK_SERVICE]: SERVING,
    });
  });

  it('Watch sends the current status at once, then each change, and stops when the client leaves', async () => {
    const { state, probe } = controllableProbe();
    let ended = false;
    const client = clientFor({ probe, services: [TASK_SERVICE], watchIntervalMs: 10 }, () => (ended = true));
    const watching = watch(client, TASK_SERVICE);

    await waitFor(() => watching.seen, (s) => s.length === 1, { description: 'the first status' });
    expect(watching.seen).toEqual([SERVING]);

    state.up = false;
    await waitFor(() => watching.seen, (s) => s.length === 2, { description: 'the change to NOT_SERVING' });
    state.up = true;
    await waitFor(() => watching.seen, (s) => s.length === 3, { description: 'the change back to SERVING' });
    // Unchanged polls send nothing.
    const callsSoFar = state.calls;
    await waitFor(() => state.calls, (n) => n >= callsSoFar + 3, { description: 'more polls' });
    expect(watching.seen).toEqual([SERVING, NOT_SERVING, SERVING]);

    watching.stop();
    await watching.done;
    await waitFor(() => ended, Boolean, { description: 'the server-side Watch to end' });
  });

  it('Watch ends when the server shuts down (the router shutdownSignal)', async () => {
    const { probe } = controllableProbe();
    const shutdown = new AbortController();
    const service = createHealthService({ probe, services: [], watchIntervalMs: 10 });
    const transport = createRouterTransport(({ service: register }) => register(health.Health, service), {
      router: { shutdownSignal: shutdown.signal },
    });
    const seen: number[] = [];
    const done = (async () => {
      for await (const response of createClient(health.Health, transport).watch({ service: '' })) seen.push(response.status);
    })().catch((error: unknown) => error);

    await waitFor(() => seen, (s) => s.length === 1, { description: 'the first status' });
    shutdown.abort();
    await done; // resolves only once the stream ended
    expect(seen).toEqual([SERVING]);
  });

  it('Watch answers SERVICE_UNKNOWN for an unknown service and keeps the stream open', async () => {
    const { probe } = controllableProbe();
    let ended = false;
    const client = clientFor({ probe, services: [TASK_SERVICE], watchIntervalMs: 10 }, () => (ended = true));
    const watching = watch(client, 'no.such.Service');

    await waitFor(() => watching.seen, (s) => s.length === 1, { description: 'the first status' });
    expect(watching.seen).toEqual([SERVICE_UNKNOWN]);
    expect(ended).toBe(false);

    watching.stop();
    await watching.done;
    await waitFor(() => ended, Boolean, { description: 'the server-side Watch to end' });
  });
});

/** The untyped client @grpc/proto-loader builds from the vendored health.proto. */
interface StockHealthClient extends grpc.Client {
  check(request: { service: string }, callback: (error: grpc.ServiceError | null, reply: { status: string }) => void): void;
  watch(request: { service: string }): grpc.ClientReadableStream<{ status: string }>;
}

describe('grpc.health.v1.Health over a real HTTP/2 server, with a stock @grpc/grpc-js client', () => {
  const { state, probe } = controllableProbe();
  let watchesEnded = 0;
  let server: http2.Http2Server;
  let client: StockHealthClient;

  beforeAll(async () => {
    const service = createHealthService({ probe, services: [TASK_SERVICE], watchIntervalMs: 10 });
    const observed: typeof service = {
      ...service,
      async *watch(request, context) {
        try {
          yield* service.watch(request, context);
        } finally {
          watchesEnded++;
        }
      },
    };
    server = http2.createServer(connectNodeAdapter({ routes: (router) => router.service(health.Health, observed) }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;

    const protoPath = fileURLToPath(new URL('../../../third_party/proto/grpc/health/v1/health.proto', import.meta.url));
    const loaded = grpc.loadPackageDefinition(loadSync(protoPath, { enums: String })) as unknown as {
      grpc: { health: { v1: { Health: new (address: string, credentials: grpc.ChannelCredentials) => StockHealthClient } } };
    };
    client = new loaded.grpc.health.v1.Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    client.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it('Check answers SERVING, and NOT_FOUND for an unknown service', async () => {
    const check = (service: string) =>
      new Promise<{ status: string }>((resolve, reject) =>
        client.check({ service }, (error, reply) => (error ? reject(error) : resolve(reply))),
      );
    state.up = true;
    expect(await check(TASK_SERVICE)).toEqual({ status: 'SERVING' });
    await expect(check('no.such.Service')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  it('Watch streams the change and ends on the server when the client cancels', async () => {
    state.up = true;
    const seen: string[] = [];
    const call = client.watch({ service: '' });
    call.on('data', (reply) => seen.push(reply.status));
    call.on('error', () => {}); // CANCELLED, expected once we cancel
    try {
      await waitFor(() => seen, (s) => s.length === 1, { description: 'the first status' });
      state.up = false;
      await waitFor(() => seen, (s) => s.length === 2, { description: 'the change' });
      expect(seen).toEqual(['SERVING', 'NOT_SERVING']);
    } finally {
      // Also on failure: an open stream would keep server.close() waiting.
      call.cancel();
    }
    await waitFor(() => watchesEnded, (n) => n === 1, { description: 'the server-side Watch to end' });
  });
});
