import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, generateKeyPair, importJWK, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { file_taskproc_v1_task } from '@taskproc/contract';
import { DEV_AUTH, ensureDevSigningKey, signDevToken, type DevKeyFiles } from '@taskproc/client/dev-tokens';
import { createLogger } from '@taskproc/core';
import { startGateway, type RunningGateway } from '@taskproc/gateway';
import { annotatedServices, readRestRoutes } from '../gateway/src/http-rules.js';
import { MAX_REQUEST_HEADER_BYTES, MAX_TOKEN_BYTES } from '../gateway/src/limits.js';
import { startTaskApiHarness, type TaskApiHarness } from './support/task-api-harness.js';

// Every REST route of proto/ through the embedded gateway, in front of a
// real task-api with authentication on: without a token, with a token
// task-api refuses, with an oversized one and with a good one. The rows are
// keyed by the routes the google.api.http rules declare, so a route added
// without a row here fails the first test. (Envoy's rules for the same
// routes are checked in gateway/test/envoy-config.test.ts.)

interface Row {
  /** The request sent, its path variables filled in. */
  request: (taskId: string) => { method: string; path: string; body?: string };
  /** What a good token gets: anything but 401. */
  withToken: number;
  /** Open without a token (GET /health). */
  open?: boolean;
}

const ROWS: Record<string, Row> = {
  'POST /task': { request: () => ({ method: 'POST', path: '/task', body: '{"content":"auth"}' }), withToken: 201 },
  'GET /task/{task_id}': { request: (id) => ({ method: 'GET', path: `/task/${id}` }), withToken: 404 },
  'PATCH /task/{task_id}/cancel': { request: (id) => ({ method: 'PATCH', path: `/task/${id}/cancel` }), withToken: 404 },
  'POST /tasks:batchCreate': { request: () => ({ method: 'POST', path: '/tasks:batchCreate', body: '{"requests":[{"content":"auth"}]}' }), withToken: 200 },
  'GET /tasks': { request: () => ({ method: 'GET', path: '/tasks' }), withToken: 200 },
  'GET /task/{task_id}/events': { request: (id) => ({ method: 'GET', path: `/task/${id}/events` }), withToken: 404 },
  'GET /task/{task_id}/watch': { request: (id) => ({ method: 'GET', path: `/task/${id}/watch` }), withToken: 404 },
  'PATCH /task/{task_id}/retry': { request: (id) => ({ method: 'PATCH', path: `/task/${id}/retry` }), withToken: 404 },
  'GET /stats': { request: () => ({ method: 'GET', path: '/stats' }), withToken: 200 },
  'GET /health': { request: () => ({ method: 'GET', path: '/health' }), withToken: 200, open: true },
};
const ROUTES = Object.entries(ROWS);
const GUARDED = ROUTES.filter(([, row]) => !row.open);

const CHALLENGE = 'Bearer realm="taskproc"';
const INVALID_TOKEN_CHALLENGE = 'Bearer realm="taskproc", error="invalid_token"';

let keyDir: string;
let keys: DevKeyFiles;
let harness: TaskApiHarness;
let gateway: RunningGateway;

const tokenFor = (tenant: string, ttlSeconds?: number) => signDevToken({ signingKeyFile: keys.signingKeyFile, tenant, ttlSeconds });

async function send(row: Row, authorization?: string) {
  const { method, path, body } = row.request(randomUUID());
  const headers: Record<string, string> = { ...(body ? { 'content-type': 'application/json' } : {}), ...(authorization ? { authorization } : {}) };
  const response = await fetch(`${gateway.url}${path}`, { method, headers, body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: text.startsWith('{') ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  keyDir = await mkdtemp(join(tmpdir(), 'taskproc-rest-auth-'));
  keys = await ensureDevSigningKey(keyDir);
  harness = await startTaskApiHarness('rest_auth', (env) => ({
    ...env,
    AUTH_MODE: 'jwt',
    AUTH_JWKS_FILE: keys.jwksFile,
    AUTH_JWKS_URL: '',
    AUTH_ISSUER: DEV_AUTH.issuer,
    AUTH_AUDIENCE: DEV_AUTH.audience,
    AUTH_TENANT_CLAIM: DEV_AUTH.tenantClaim,
    // Small budgets, so the 429s below come quickly: every other test's
    // tenant makes a few requests at most.
    TENANT_RATE_LIMIT_PER_S: '1',
    TENANT_RATE_LIMIT_BURST: '5',
    TENANT_MAX_WATCH_STREAMS: '1',
  }));
  gateway = await startGateway({ host: '127.0.0.1', port: 0, upstreamUrl: harness.api.url, logLevel: 'silent' }, { logger: createLogger('gateway', 'silent') });
}, 60_000);

afterAll(async () => {
  await gateway?.close();
  await harness?.close();
  await rm(keyDir, { recursive: true, force: true });
});

describe('REST routes with authentication on (embedded gateway, real task-api)', () => {
  it('has a row for every REST route the google.api.http rules declare', () => {
    const declared = readRestRoutes(annotatedServices([file_taskproc_v1_task])).map((route) => `${route.httpMethod} ${route.template.source}`);
    expect(Object.keys(ROWS).sort()).toEqual([...declared].sort());
  });

  it.each(GUARDED)('%s without a token: 401, the Status body and a plain challenge', async (_route, row) => {
    const answer = await send(row);
    expect(answer.status).toBe(401);
    expect(answer.headers.get('content-type')).toBe('application/json');
    expect(answer.headers.get('www-authenticate')).toBe(CHALLENGE);
    expect(answer.json).toEqual({ code: 16, message: expect.stringMatching(/missing bearer token/), details: [] });
  });

  it.each(GUARDED)('%s with a token task-api does not trust: 401 invalid_token, saying why', async (_route, row) => {
    const { privateKey } = await generateKeyPair('ES256');
    const now = Math.floor(Date.now() / 1000);
    const stranger = await new SignJWT({ tenant: 'acme' })
      .setProtectedHeader({ alg: 'ES256', kid: 'a-key-no-one-published' })
      .setIssuer(DEV_AUTH.issuer)
      .setAudience(DEV_AUTH.audience)
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(privateKey);
    for (const authorization of [`Bearer ${stranger}`, `Bearer ${await expiredToken()}`, 'Bearer not-a-jwt']) {
      const answer = await send(row, authorization);
      expect(answer.status, authorization.slice(0, 20)).toBe(401);
      expect(answer.headers.get('www-authenticate')).toBe(INVALID_TOKEN_CHALLENGE);
      expect(answer.json).toEqual({ code: 16, message: expect.any(String), details: [] });
      expect(answer.json.message).not.toMatch(/missing/);
    }
  });

  it.each(GUARDED)('%s with a token over 8 KiB: 401 "token too large", never 431 or 500', async (_route, row) => {
    for (const size of [MAX_TOKEN_BYTES + 1, MAX_REQUEST_HEADER_BYTES - 4_096]) {
      const answer = await send(row, `Bearer ${'a'.repeat(size)}`);
      expect(answer.status, String(size)).toBe(401);
      expect(answer.headers.get('www-authenticate')).toBe(INVALID_TOKEN_CHALLENGE);
      expect(answer.json).toEqual({ code: 16, message: `token too large (more than ${MAX_TOKEN_BYTES} bytes)`, details: [] });
    }
  });

  it.each(ROUTES)('%s with a good token: let in', async (_route, row) => {
    const answer = await send(row, `Bearer ${await tokenFor(`tenant-${randomUUID().slice(0, 8)}`)}`);
    expect(answer.status).toBe(row.withToken);
    expect(answer.headers.get('www-authenticate')).toBeNull();
  });

  it('GET /health is open without a token', async () => {
    const answer = await send(ROWS['GET /health']!);
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ status: expect.any(String) });
  });

  it('the watch route streams for a good token, and refuses before the stream starts without one', async () => {
    const token = await tokenFor('watcher');
    const created = await fetch(`${gateway.url}/task`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: '{"content":"watched"}' });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const refused = await fetch(`${gateway.url}/task/${id}/watch`);
    expect([refused.status, refused.headers.get('content-type')]).toEqual([401, 'application/json']);
    await refused.text();
    const abort = new AbortController();
    const watch = await fetch(`${gateway.url}/task/${id}/watch`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
    expect([watch.status, watch.headers.get('content-type')]).toEqual([200, 'text/event-stream']);
    const reader = watch.body!.getReader();
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toContain(`"id":"${id}"`);
    abort.abort();
  });

  it("passes the dashboard's Connect calls to task-api with their token: refused without one, served with one", async () => {
    const call = (authorization?: string) =>
      fetch(`${gateway.url}/taskproc.v1.TaskService/ListTasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: '{}',
      });
    const refused = await call();
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ code: 'unauthenticated' });
    const served = await call(`Bearer ${await tokenFor('dashboard')}`);
    expect(served.status).toBe(200);
    expect(await served.json()).toMatchObject({});
    const oversized = await call(`Bearer ${'a'.repeat(MAX_TOKEN_BYTES + 1)}`);
    expect(oversized.status).toBe(401);
    expect(await oversized.json()).toEqual({ code: 'unauthenticated', message: `token too large (more than ${MAX_TOKEN_BYTES} bytes)` });
  });
});

describe('tenant limits through the embedded gateway', () => {
  it("answers a spent budget 429 with the Status body and task-api's Retry-After, on unary and watch routes alike; other tenants go on", async () => {
    const greedy = `Bearer ${await tokenFor('greedy')}`;
    const list = ROWS['GET /tasks']!;
    let answer = await send(list, greedy);
    for (let sent = 1; answer.status !== 429 && sent < 50; sent += 1) answer = await send(list, greedy);
    expect(answer.status).toBe(429);
    expect(answer.json).toEqual({ code: 8, message: expect.any(String), details: [] });
    expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(answer.headers.get('www-authenticate')).toBeNull();

    const watch = await send(ROWS['GET /task/{task_id}/watch']!, greedy);
    expect([watch.status, watch.headers.get('content-type')]).toEqual([429, 'application/json']);
    expect(Number(watch.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    expect((await send(list, `Bearer ${await tokenFor('frugal')}`)).status).toBe(200);
  });

  it('refuses a watch past the tenant\'s open streams with 429 before the stream starts', async () => {
    const token = `Bearer ${await tokenFor('one-watcher')}`;
    const created = await fetch(`${gateway.url}/task`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: token }, body: '{"content":"watched once"}' });
    const { id } = (await created.json()) as { id: string };
    const abort = new AbortController();
    const first = await fetch(`${gateway.url}/task/${id}/watch`, { headers: { authorization: token }, signal: abort.signal });
    expect(first.status).toBe(200);
    try {
      const second = await fetch(`${gateway.url}/task/${id}/watch`, { headers: { authorization: token } });
      expect([second.status, second.headers.get('content-type')]).toEqual([429, 'application/json']);
      expect(Number(second.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(await second.json()).toMatchObject({ code: 8 });
    } finally {
      abort.abort();
    }
  });
});

/** A token that expired an hour ago (well past any clock skew). */
async function expiredToken(): Promise<string> {
  const jwk = JSON.parse(await readFile(keys.signingKeyFile, 'utf8')) as JWK;
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ tenant: 'acme' })
    .setProtectedHeader({ alg: jwk.alg!, kid: jwk.kid! })
    .setIssuer(DEV_AUTH.issuer)
    .setAudience(DEV_AUTH.audience)
    .setIssuedAt(now - 7200)
    .setExpirationTime(now - 3600)
    .sign(await importJWK(jwk, jwk.alg));
}
