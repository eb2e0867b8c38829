import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, ConnectError, createClient, type CallOptions, type Client, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { TaskService } from '@taskproc/contract';
import { WATCH_CAP_RETRY_AFTER_S } from '../src/limits/limits-interceptor.js';
import { startTaskApiHarness, type TaskApiHarness } from '../../../test/support/task-api-harness.js';
import { waitFor } from '../../../test/support/wait-for.js';
import { createTestKeys, type TestKeys } from './support/tokens.js';

// Tenant limits on a real task-api with authentication on, over the three
// protocols: the request budget (a small one, so a burst spends it) and the
// cap on each tenant's watch streams.

const PROTOCOLS = ['grpc', 'connect', 'grpc-web'] as const;
type Protocol = (typeof PROTOCOLS)[number];

function transportsFor(baseUrl: string): Record<Protocol, Transport> {
  return {
    grpc: createGrpcTransport({ baseUrl }),
    connect: createConnectTransport({ baseUrl, httpVersion: '1.1' }),
    'grpc-web': createGrpcWebTransport({ baseUrl, httpVersion: '1.1' }),
  };
}

async function outcome(call: () => Promise<unknown>): Promise<{ code: Code | 'OK'; retryAfter: string | null; message: string }> {
  try {
    await call();
    return { code: 'OK', retryAfter: null, message: '' };
  } catch (error) {
    const connectError = ConnectError.from(error);
    return { code: connectError.code, retryAfter: connectError.metadata.get('retry-after'), message: connectError.rawMessage };
  }
}

let keys: TestKeys;
beforeAll(async () => {
  keys = await createTestKeys('limits');
});
afterAll(async () => {
  await keys?.remove();
});

async function as(tenant: string): Promise<CallOptions> {
  return { headers: { authorization: `Bearer ${await keys.token(tenant)}` } };
}

describe('the request budget', () => {
  const RATE = 1;
  const BURST = 5;
  let harness: TaskApiHarness;
  let clients: Record<Protocol, Client<typeof TaskService>>;

  beforeAll(async () => {
    harness = await startTaskApiHarness('limits_budget', (env) => ({
      ...env,
      ...keys.env,
      TENANT_RATE_LIMIT_PER_S: String(RATE),
      TENANT_RATE_LIMIT_BURST: String(BURST),
    }));
    const transports = transportsFor(harness.api.url);
    clients = { grpc: createClient(TaskService, transports.grpc), connect: createClient(TaskService, transports.connect), 'grpc-web': createClient(TaskService, transports['grpc-web']) };
  });
  afterAll(async () => {
    await harness?.close();
  });

  it.each(PROTOCOLS)('over %s: a burst past the budget is RESOURCE_EXHAUSTED with retry-after, other tenants pass, and it refills', async (protocol) => {
    const client = clients[protocol];
    const spender = await as(`spender-${protocol}`);
    // All at once: they arrive well within the second the next request takes to refill.
    const results = await Promise.all(Array.from({ length: BURST + 3 }, () => outcome(() => client.listTasks({}, spender))));
    const passed = results.filter((result) => result.code === 'OK');
    const refused = results.filter((result) => result.code !== 'OK');
    expect(passed.length).toBeGreaterThanOrEqual(BURST);
    expect(refused.length).toBeGreaterThanOrEqual(2);
    for (const refusal of refused) {
      expect(refusal).toEqual({ code: Code.ResourceExhausted, retryAfter: '1', message: "this tenant's request budget is spent (1 per second); retry in 1 s" });
    }
    // Another tenant has a budget of its own.
    const bystander = await as(`bystander-${protocol}`);
    expect((await outcome(() => client.listTasks({}, bystander))).code).toBe('OK');
    // The budget refills at RATE per second: the spender passes again soon.
    await waitFor(() => outcome(() => client.listTasks({}, spender)), (result) => result.code === 'OK', { intervalMs: 100, timeoutMs: 5_000, description: 'the budget to refill' });
  });

  it('counts refusals in taskproc_rate_limited_total, without a tenant label', async () => {
    const text = await (await fetch(harness.api.metricsUrl)).text();
    const line = text.split('\n').find((l) => l.startsWith('taskproc_rate_limited_total{limit="requests"}'));
    expect(Number(line?.split(' ')[1])).toBeGreaterThanOrEqual(3);
    expect(text).not.toMatch(/spender/);
  });
});

describe('the watch-stream cap', () => {
  const CAP = 2;
  let harness: TaskApiHarness;
  let transports: Record<Protocol, Transport>;

  beforeAll(async () => {
    harness = await startTaskApiHarness('limits_watch', (env) => ({ ...env, ...keys.env, TENANT_RATE_LIMIT_PER_S: '0', TENANT_MAX_WATCH_STREAMS: String(CAP) }));
    transports = transportsFor(harness.api.url);
  });
  afterAll(async () => {
    await harness?.close();
  });

  /** Opens WatchTasks and waits for its first message, so the server holds the stream. */
  async function openWatch(protocol: Protocol, options: CallOptions) {
    const controller = new AbortController();
    const stream = createClient(TaskService, transports[protocol]).watchTasks({}, { ...options, signal: controller.signal })[Symbol.asyncIterator]();
    await stream.next();
    return { cancel: () => controller.abort() };
  }

  it.each(PROTOCOLS)('over %s: a tenant past its cap is RESOURCE_EXHAUSTED with retry-after; a slot frees when a stream ends', async (protocol) => {
    const watcher = await as(`watcher-${protocol}`);
    const open = [await openWatch(protocol, watcher), await openWatch(protocol, watcher)];
    const refused = await outcome(() => openWatch(protocol, watcher));
    expect(refused).toEqual({ code: Code.ResourceExhausted, retryAfter: String(WATCH_CAP_RETRY_AFTER_S), message: `this tenant already holds ${CAP} watch streams; close one or retry later` });
    // WatchTask counts against the same cap.
    const client = createClient(TaskService, transports[protocol]);
    const { task } = await client.createTask({ content: 'watched' }, watcher);
    const watchOne = await outcome(async () => {
      for await (const _ of client.watchTask({ taskId: task!.id }, watcher)) break;
    });
    expect(watchOne.code).toBe(Code.ResourceExhausted);
    // Another tenant is not held back.
    const other = await openWatch(protocol, await as(`other-${protocol}`));
    other.cancel();

    open[0]!.cancel();
    const reopened = await waitFor(() => outcome(async () => (await openWatch(protocol, watcher)).cancel()), (result) => result.code === 'OK', { description: 'a slot after a cancel' });
    expect(reopened.code).toBe('OK');
    open[1]!.cancel();
  });

  it('gives the slot back when a stream ends with an error', async () => {
    const watcher = await as('failing-watcher');
    const client = createClient(TaskService, transports.grpc);
    for (let i = 0; i < CAP + 2; i++) {
      // A task that does not exist: the stream ends NOT_FOUND.
      const result = await outcome(async () => {
        for await (const _ of client.watchTask({ taskId: '00000000-0000-4000-8000-000000000000' }, watcher));
      });
      expect(result.code).toBe(Code.NotFound);
    }
  });
});

describe('without authentication', () => {
  let harness: TaskApiHarness;

  beforeAll(async () => {
    harness = await startTaskApiHarness('limits_off', (env) => ({ ...env, AUTH_MODE: 'none', TENANT_RATE_LIMIT_PER_S: '1', TENANT_RATE_LIMIT_BURST: '1', TENANT_MAX_WATCH_STREAMS: '1' }));
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('applies no tenant limits: the one tenant has the process-wide bounds alone', async () => {
    const client = createClient(TaskService, transportsFor(harness.api.url).grpc);
    for (let i = 0; i < 5; i++) expect((await outcome(() => client.listTasks({}))).code).toBe('OK');
    const controllers = [new AbortController(), new AbortController(), new AbortController()];
    try {
      for (const controller of controllers) {
        const stream = client.watchTasks({}, { signal: controller.signal })[Symbol.asyncIterator]();
        expect((await stream.next()).done).toBe(false);
      }
    } finally {
      for (const controller of controllers) controller.abort();
    }
  });
});
