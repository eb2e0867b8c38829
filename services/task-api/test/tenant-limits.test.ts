import { describe, expect, it } from 'vitest';
import { Code, ConnectError, createClient, createContextValues, createRouterTransport, type Interceptor, type StreamRequest } from '@connectrpc/connect';
import { TaskService, type WatchTasksResponse } from '@taskproc/contract';
import { tenantKey, tenantOf } from '../src/auth/tenant.js';
import { toConnectError } from '../src/error-mapping.js';
import { WATCH_CAP_RETRY_AFTER_S, tenantLimitsInterceptor } from '../src/limits/limits-interceptor.js';
import { waitFor } from '../../../test/support/wait-for.js';

// The tenant limits on an in-memory transport, with a clock the test moves:
// the request budget, the watch-stream cap and every way a stream's slot is
// given back. The real server's wiring is in limits.test.ts.

/** Stands in for authentication: the tenant is whatever x-tenant says. */
const tenantFromHeader: Interceptor = (next) => (request) => {
  const tenant = request.header.get('x-tenant');
  if (tenant) request.contextValues.set(tenantKey, tenant);
  return next(request);
};

/** Maps typed errors as the server's request interceptor does. */
const mapErrors: Interceptor = (next) => async (request) => {
  try {
    return await next(request);
  } catch (error) {
    throw toConnectError(error);
  }
};

function setUp(limits: { ratePerSecond: number; burst: number; maxWatchStreams: number }, watchEnds: 'never' | 'error' | 'complete' = 'never') {
  const clock = { ms: 0 };
  const transport = createRouterTransport(
    ({ service }) =>
      service(TaskService, {
        getTask: (_request, context) => ({ task: { id: tenantOf(context) } }),
        checkHealth: () => ({ status: 'ok' }),
        async *watchTasks(_request, context) {
          yield {};
          if (watchEnds === 'error') throw new ConnectError('the watch ended badly', Code.Unavailable);
          if (watchEnds === 'complete') return;
          await new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }));
        },
      }),
    { router: { interceptors: [mapErrors, tenantFromHeader, tenantLimitsInterceptor({ ...limits }, { now: () => clock.ms })] } },
  );
  return { clock, client: createClient(TaskService, transport) };
}

const as = (tenant: string) => ({ headers: { 'x-tenant': tenant } });

async function refusal(call: () => Promise<unknown>): Promise<{ code: Code | 'OK'; retryAfter: string | null; message: string }> {
  try {
    await call();
    return { code: 'OK', retryAfter: null, message: '' };
  } catch (error) {
    const connectError = ConnectError.from(error);
    return { code: connectError.code, retryAfter: connectError.metadata.get('retry-after'), message: connectError.rawMessage };
  }
}

/** Opens a WatchTasks stream and reads its first message, so the server holds it. */
async function openWatch(client: ReturnType<typeof setUp>['client'], tenant: string) {
  const controller = new AbortController();
  const stream = client.watchTasks({}, { ...as(tenant), signal: controller.signal })[Symbol.asyncIterator]();
  const first = await stream.next();
  return { first: first.value as WatchTasksResponse | undefined, stream, cancel: () => controller.abort() };
}

describe('the request budget', () => {
  it('refuses a tenant past its burst with retry-after, leaves other tenants alone, and refills', async () => {
    const { clock, client } = setUp({ ratePerSecond: 1, burst: 2, maxWatchStreams: 0 });
    expect((await client.getTask({}, as('acme'))).task?.id).toBe('acme');
    await client.getTask({}, as('acme'));
    expect(await refusal(() => client.getTask({}, as('acme')))).toEqual({
      code: Code.ResourceExhausted,
      retryAfter: '1',
      message: "this tenant's request budget is spent (1 per second); retry in 1 s",
    });
    expect((await client.getTask({}, as('globex'))).task?.id).toBe('globex');
    clock.ms += 1_000;
    expect((await client.getTask({}, as('acme'))).task?.id).toBe('acme');
  });

  it('charges the default tenant for a request that names none, and never charges CheckHealth', async () => {
    const { client } = setUp({ ratePerSecond: 1, burst: 1, maxWatchStreams: 0 });
    await client.getTask({});
    expect((await refusal(() => client.getTask({}))).code).toBe(Code.ResourceExhausted);
    for (let i = 0; i < 5; i++) expect((await client.checkHealth({})).status).toBe('ok');
  });

  it('is off with a rate of 0', async () => {
    const { client } = setUp({ ratePerSecond: 0, burst: 1, maxWatchStreams: 0 });
    for (let i = 0; i < 50; i++) await client.getTask({}, as('acme'));
  });
});

describe('the watch-stream cap', () => {
  it('refuses a tenant past its cap with retry-after; others may still watch', async () => {
    const { client } = setUp({ ratePerSecond: 0, burst: 1, maxWatchStreams: 2 });
    const open = [await openWatch(client, 'acme'), await openWatch(client, 'acme')];
    expect(await refusal(() => openWatch(client, 'acme'))).toEqual({
      code: Code.ResourceExhausted,
      retryAfter: String(WATCH_CAP_RETRY_AFTER_S),
      message: 'this tenant already holds 2 watch streams; close one or retry later',
    });
    const other = await openWatch(client, 'globex');
    expect(other.first).toBeDefined();
    for (const watch of [...open, other]) watch.cancel();
  });

  it('gives a slot back when the client cancels its stream', async () => {
    const { client } = setUp({ ratePerSecond: 0, burst: 1, maxWatchStreams: 1 });
    const first = await openWatch(client, 'acme');
    expect((await refusal(() => openWatch(client, 'acme'))).code).toBe(Code.ResourceExhausted);
    first.cancel();
    const again = await waitFor(() => refusal(async () => (await openWatch(client, 'acme')).cancel()), (result) => result.code === 'OK', { description: 'a slot after the cancel' });
    expect(again.code).toBe('OK');
  });

  it.each(['error', 'complete'] as const)('gives a slot back when the stream ends (%s)', async (ending) => {
    const { client } = setUp({ ratePerSecond: 0, burst: 1, maxWatchStreams: 1 }, ending);
    for (let i = 0; i < 3; i++) {
      const result = await refusal(async () => {
        for await (const _ of client.watchTasks({}, as('acme')));
      });
      expect(result.code).toBe(ending === 'error' ? Code.Unavailable : 'OK');
    }
  });

  it('gives a slot back when the request ends before its stream is ever read', async () => {
    let held = 0;
    const interceptor = tenantLimitsInterceptor({ ratePerSecond: 0, burst: 1, maxWatchStreams: 1 });
    const handler = interceptor(async (request) => {
      held += 1;
      return { stream: true, service: request.service, method: TaskService.method.watchTasks, header: new Headers(), trailer: new Headers(), message: (async function* () {})() };
    });
    const request = (signal: AbortSignal) =>
      ({
        stream: true,
        service: TaskService,
        method: TaskService.method.watchTasks,
        requestMethod: 'POST',
        url: 'http://localhost/taskproc.v1.TaskService/WatchTasks',
        signal,
        header: new Headers(),
        contextValues: createContextValues().set(tenantKey, 'acme'),
        message: (async function* () {})(),
      }) as unknown as StreamRequest;
    const shutdown = new AbortController();
    await handler(request(shutdown.signal)); // its message is never iterated
    await expect(handler(request(new AbortController().signal))).rejects.toThrow(/already holds 1 watch streams/);
    shutdown.abort();
    await handler(request(new AbortController().signal));
    expect(held).toBe(2);
  });

  it('is off with a cap of 0', async () => {
    const { client } = setUp({ ratePerSecond: 0, burst: 1, maxWatchStreams: 0 });
    const open = await Promise.all(Array.from({ length: 10 }, () => openWatch(client, 'acme')));
    for (const watch of open) watch.cancel();
  });
});
