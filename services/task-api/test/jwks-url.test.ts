import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { TaskService } from '@taskproc/contract';
import { rotateDevSigningKey } from '@taskproc/client/dev-tokens';
import { startTaskApiHarness, type TaskApiHarness } from '../../../test/support/task-api-harness.js';
import { startTcpProxy, type TcpProxy } from '../../../test/support/tcp-proxy.js';
import { waitFor } from '../../../test/support/wait-for.js';
import { createTestKeys, type TestKeys } from './support/tokens.js';

// The JWKS from an identity provider's URL (a local HTTP server here, behind
// a TCP proxy that can make it unreachable or silent): keys are fetched and
// refetched for a new kid; while the provider is down the keys in hand keep
// serving, and without any keys the answer is UNAVAILABLE, never
// UNAUTHENTICATED or INTERNAL.

/** Serves the JWKS file of `keys`, or answers 500 while `failing`. */
async function startIdentityProvider(keys: TestKeys) {
  const state = { failing: false, fetches: 0 };
  const server: Server = createServer((request, response) => {
    state.fetches += 1;
    if (state.failing) {
      response.writeHead(500).end('down for maintenance');
      return;
    }
    void readFile(keys.jwksFile, 'utf8').then((jwks) => response.writeHead(200, { 'content-type': 'application/json' }).end(jwks));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { state, url: `http://127.0.0.1:${port}/.well-known/jwks.json`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

async function outcome(client: Client<typeof TaskService>, token: string): Promise<{ code: Code | 'OK'; message: string }> {
  try {
    await client.listTasks({}, { headers: { authorization: `Bearer ${token}` } });
    return { code: 'OK', message: '' };
  } catch (error) {
    const connectError = ConnectError.from(error);
    return { code: connectError.code, message: connectError.rawMessage };
  }
}

const UNAVAILABLE = { code: Code.Unavailable, message: 'the keys that verify tokens cannot be loaded right now; try again later' };

let keys: TestKeys;
let provider: Awaited<ReturnType<typeof startIdentityProvider>>;
let proxy: TcpProxy;

beforeAll(async () => {
  keys = await createTestKeys('jwks_url');
  provider = await startIdentityProvider(keys);
  proxy = await startTcpProxy(provider.url, 80);
});

afterAll(async () => {
  await proxy?.close();
  await provider?.close();
  await keys?.remove();
});

function withUrl(url: string, extra: Record<string, string> = {}) {
  return (env: Record<string, string>) => ({ ...env, ...keys.env, AUTH_JWKS_FILE: '', AUTH_JWKS_URL: url, AUTH_JWKS_TIMEOUT_MS: '300', ...extra });
}

describe('a reachable provider', () => {
  let harness: TaskApiHarness;
  let client: Client<typeof TaskService>;

  beforeAll(async () => {
    harness = await startTaskApiHarness('jwks_url', withUrl(proxy.via(provider.url)));
    client = createClient(TaskService, createConnectTransport({ baseUrl: harness.api.url, httpVersion: '1.1' }));
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('verifies tokens against the fetched keys, and fetches again for a new kid', async () => {
    expect(await outcome(client, await keys.token('acme'))).toEqual({ code: 'OK', message: '' });
    await rotateDevSigningKey(keys.dir);
    const rotated = await keys.token('acme');
    await waitFor(() => outcome(client, rotated), (result) => result.code === 'OK', { timeoutMs: 5_000, description: 'the rotated key' });
  });

  it('keeps the keys in hand while the provider fails or is unreachable, and answers UNAVAILABLE for a kid it cannot check', async () => {
    const known = await keys.token('acme');
    provider.state.failing = true;
    proxy.block();
    try {
      await rotateDevSigningKey(keys.dir);
      const unknown = await keys.token('acme');
      // The first try may fall within a second of the last fetch: then the kid is simply unknown.
      const result = await waitFor(() => outcome(client, unknown), (r) => r.code === Code.Unavailable, { intervalMs: 200, timeoutMs: 5_000 });
      expect(result).toEqual(UNAVAILABLE);
      expect(await outcome(client, known)).toEqual({ code: 'OK', message: '' });
    } finally {
      provider.state.failing = false;
      proxy.unblock();
    }
  });
});

describe('a provider unreachable from the start', () => {
  let harness: TaskApiHarness;
  let client: Client<typeof TaskService>;

  beforeAll(async () => {
    proxy.block();
    harness = await startTaskApiHarness('jwks_url_down', withUrl(proxy.via(provider.url)));
    client = createClient(TaskService, createConnectTransport({ baseUrl: harness.api.url, httpVersion: '1.1' }));
  });
  afterAll(async () => {
    proxy.unblock();
    await harness?.close();
  });

  it('answers UNAVAILABLE while the provider refuses connections, answers 500 or stays silent, then recovers', async () => {
    const token = await keys.token('acme');
    expect(await outcome(client, token)).toEqual(UNAVAILABLE);

    // Failed fetches are retried at most once a second; wait for one that reached the provider.
    proxy.unblock();
    provider.state.failing = true;
    const fetchesBefore = provider.state.fetches;
    const answered500 = await waitFor(
      async () => ({ result: await outcome(client, token), fetches: provider.state.fetches }),
      ({ fetches }) => fetches > fetchesBefore,
      { intervalMs: 100, description: 'a fetch answered 500' },
    );
    expect(answered500.result).toEqual(UNAVAILABLE);

    // A silent provider: the request that fetches waits AUTH_JWKS_TIMEOUT_MS (300 ms), not the request timeout.
    provider.state.failing = false;
    proxy.stall();
    const silent = await waitFor(
      async () => {
        const started = performance.now();
        return { result: await outcome(client, token), ms: performance.now() - started };
      },
      ({ ms }) => ms >= 250,
      { intervalMs: 100, description: 'a fetch that timed out' },
    );
    expect(silent.result).toEqual(UNAVAILABLE);
    expect(silent.ms).toBeLessThan(3_000);

    proxy.unstall();
    await waitFor(() => outcome(client, token), (result) => result.code === 'OK', { intervalMs: 200, timeoutMs: 5_000, description: 'the keys once the provider is back' });
    const text = await (await fetch(harness.api.metricsUrl)).text();
    expect(text).toMatch(/^taskproc_auth_failures_total\{reason="keys_unavailable"\} [1-9]/m);
  });
});
