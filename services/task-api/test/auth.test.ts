import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, ConnectError, createClient, type CallOptions, type Client, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { SignJWT } from 'jose';
import { TaskService, health, reflection } from '@taskproc/contract';
import { startTaskApiHarness, type TaskApiHarness } from '../../../test/support/task-api-harness.js';
import { base64url, claimsFor, createTestKeys, tokenOfStrangeKey, type TestKeys } from './support/tokens.js';

// Authentication over the three protocols task-api serves (REST reaches it
// through the gateways as one of them): every TaskService RPC refuses a
// missing or bad token with UNAUTHENTICATED and a message naming what is
// wrong, accepts a good one, and the health and reflection services stay
// open.

type TaskClient = Client<typeof TaskService>;
type MethodName = (typeof TaskService.methods)[number]['localName'];

/**
 * One call of each TaskService method. Keyed by every method the contract
 * has: a method added without an entry here fails the first test.
 */
const CALLS: Record<string, (client: TaskClient, options: CallOptions) => Promise<unknown>> = {
  createTask: (client, options) => client.createTask({ content: 'auth' }, options),
  batchCreateTasks: (client, options) => client.batchCreateTasks({ requests: [{ content: 'auth' }] }, options),
  getTask: (client, options) => client.getTask({ taskId: randomUUID() }, options),
  cancelTask: (client, options) => client.cancelTask({ taskId: randomUUID() }, options),
  retryTask: (client, options) => client.retryTask({ taskId: randomUUID() }, options),
  listTasks: (client, options) => client.listTasks({}, options),
  listTaskEvents: (client, options) => client.listTaskEvents({ taskId: randomUUID() }, options),
  watchTask: (client, options) => firstMessage(client.watchTask({ taskId: randomUUID() }, options)),
  watchTasks: (client, options) => firstMessage(client.watchTasks({}, options)),
  getTaskStats: (client, options) => client.getTaskStats({}, options),
  checkHealth: (client, options) => client.checkHealth({}, options),
};

/** Methods anyone may call without a token. */
const OPEN_METHODS: ReadonlySet<MethodName> = new Set(['checkHealth']);

/** A stream's first message is enough: it shows whether the call was let in. */
async function firstMessage(stream: AsyncIterable<unknown>): Promise<unknown> {
  for await (const message of stream) return message;
  return undefined;
}

/** The code a call ends with ('OK' when it succeeds), and its message. */
async function outcome(call: () => Promise<unknown>): Promise<{ code: Code | 'OK'; message: string }> {
  try {
    await call();
    return { code: 'OK', message: '' };
  } catch (error) {
    const connectError = ConnectError.from(error);
    return { code: connectError.code, message: connectError.rawMessage };
  }
}

interface BadToken {
  name: string;
  /** The authorization header sent; undefined sends none. */
  header: () => Promise<string | undefined>;
  message: RegExp;
}

let keys: TestKeys;
let harness: TaskApiHarness;
const transports: Record<string, Transport> = {};
const clients: Record<string, TaskClient> = {};
const PROTOCOLS = ['grpc', 'connect', 'grpc-web'] as const;

const bearer = (token: string) => `Bearer ${token}`;
const signedBy = async (token: Promise<string>) => bearer(await token);

const BAD_TOKENS: BadToken[] = [
  { name: 'no authorization header', header: async () => undefined, message: /^missing bearer token/ },
  { name: 'an empty authorization header', header: async () => '', message: /^empty authorization header/ },
  { name: 'another scheme', header: async () => 'Basic dXNlcjpwYXNz', message: /^authorization header is not "Bearer <token>"$/ },
  { name: 'the scheme without a token', header: async () => 'Bearer', message: /^empty bearer token$/ },
  { name: 'not three parts', header: async () => bearer('abc.def'), message: /three parts/ },
  { name: 'a header that is not base64url', header: async () => bearer('e$y.e30.c2ln'), message: /^token header is not base64url-encoded JSON$/ },
  { name: 'a header that is not JSON', header: async () => bearer(`${base64url('not json')}.e30.c2ln`), message: /^token header is not base64url-encoded JSON$/ },
  { name: 'a payload that is not base64url', header: async () => bearer(`${base64url({ alg: 'ES256' })}.pay$load.c2ln`), message: /payload or signature is empty or not base64url/ },
  { name: 'alg none', header: async () => bearer(`${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(claimsFor('acme'))}.`), message: /^unsigned token \(alg "none"\) not accepted$/ },
  {
    name: 'a symmetric algorithm (HS256)',
    header: () => signedBy(new SignJWT(claimsFor('acme')).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('a shared secret of thirty-two bytes!'))),
    message: /^token algorithm not accepted \(accepted: RS256, ES256, EdDSA\)$/,
  },
  { name: 'an unknown kid', header: () => signedBy(tokenOfStrangeKey(claimsFor('acme'))), message: /^token signing key is not known/ },
  {
    name: 'a wrong signature',
    header: async () => {
      const [head, payload] = (await keys.token('acme')).split('.');
      const [, , otherSignature] = (await keys.token('someone-else')).split('.');
      return bearer(`${head}.${payload}.${otherSignature}`);
    },
    message: /^token signature does not verify$/,
  },
  { name: 'an expired token', header: () => signedBy(keys.mint({ ...claimsFor('acme', -7200) })), message: /^token expired$/ },
  { name: 'a token not yet valid', header: () => signedBy(keys.mint(claimsFor('acme', 600))), message: /^token not yet valid/ },
  { name: 'no exp', header: async () => bearer(await keys.mint({ ...claimsFor('acme'), exp: undefined })), message: /^token has no valid expiry \(exp\)$/ },
  { name: 'a wrong issuer', header: () => signedBy(keys.token('acme', { issuer: 'someone-else' })), message: /^token issuer not accepted$/ },
  { name: 'a wrong audience', header: () => signedBy(keys.token('acme', { audience: 'another-service' })), message: /^token audience not accepted$/ },
  { name: 'no tenant claim', header: () => signedBy(keys.mint(claimsFor(undefined))), message: /^token has no "tenant" claim/ },
  { name: 'a tenant claim that is no tenant name', header: () => signedBy(keys.token('../other tenant')), message: /^token's "tenant" claim is not a valid tenant name$/ },
  { name: 'a tenant claim that is not a string', header: () => signedBy(keys.mint({ ...claimsFor(undefined), tenant: ['a', 'b'] })), message: /not a valid tenant name/ },
  { name: 'a huge header (9 KiB)', header: async () => bearer(`${'a'.repeat(3000)}.${'b'.repeat(3000)}.${'c'.repeat(3200)}`), message: /^token too large/ },
  // Past HTTP/1.1's usual 16 KiB of headers: still 401, not 431.
  { name: 'a huge header (40 KiB)', header: async () => bearer('x'.repeat(40 * 1024)), message: /^token too large \(more than 8192 bytes\)$/ },
];

/** Each bad token's header, made once (some are signed). */
const badHeaders = new Map<string, string | undefined>();

function optionsWith(header: string | undefined): CallOptions {
  return header === undefined ? {} : { headers: { authorization: header } };
}

beforeAll(async () => {
  keys = await createTestKeys('auth');
  harness = await startTaskApiHarness('auth', (env) => ({ ...env, ...keys.env }));
  const baseUrl = harness.api.url;
  transports.grpc = createGrpcTransport({ baseUrl });
  transports.connect = createConnectTransport({ baseUrl, httpVersion: '1.1' });
  transports['grpc-web'] = createGrpcWebTransport({ baseUrl, httpVersion: '1.1' });
  for (const protocol of PROTOCOLS) clients[protocol] = createClient(TaskService, transports[protocol]!);
  for (const bad of BAD_TOKENS) badHeaders.set(bad.name, await bad.header());
});

afterAll(async () => {
  await harness?.close();
  await keys?.remove();
});

it('has a call for every TaskService method, so a new RPC cannot go without auth coverage', () => {
  expect(Object.keys(CALLS).sort()).toEqual(TaskService.methods.map((method) => method.localName).sort());
});

describe.each(PROTOCOLS)('over %s', (protocol) => {
  const guarded = TaskService.methods.filter((method) => !OPEN_METHODS.has(method.localName as MethodName));

  it.each(guarded.map((method) => method.localName))('%s without a token is UNAUTHENTICATED', async (name) => {
    expect(await outcome(() => CALLS[name]!(clients[protocol]!, {}))).toEqual({ code: Code.Unauthenticated, message: expect.stringMatching(/^missing bearer token/) });
  });

  it.each(TaskService.methods.map((method) => method.localName))('%s with a good token is let in', async (name) => {
    const result = await outcome(async () => CALLS[name]!(clients[protocol]!, optionsWith(bearer(await keys.token('acme')))));
    expect(result.code, result.message).not.toBe(Code.Unauthenticated);
    expect(result.code, result.message).not.toBe(Code.Internal);
  });

  it.each(BAD_TOKENS.map((bad) => [bad.name, bad] as const))('GetTask with %s is UNAUTHENTICATED with a message that says why', async (_, bad) => {
    const result = await outcome(() => CALLS.getTask!(clients[protocol]!, optionsWith(badHeaders.get(bad.name))));
    expect(result.code, result.message).toBe(Code.Unauthenticated);
    expect(result.message).toMatch(bad.message);
  });

  it('CheckHealth, the health service and reflection answer without a token', async () => {
    expect(await outcome(() => clients[protocol]!.checkHealth({}))).toEqual({ code: 'OK', message: '' });
    const healthClient = createClient(health.Health, transports[protocol]!);
    expect((await healthClient.check({ service: TaskService.typeName })).status).toBe(health.HealthCheckResponse_ServingStatus.SERVING);
  });
});

it('the reflection service answers without a token (gRPC)', async () => {
  const client = createClient(reflection.ServerReflection, transports.grpc!);
  async function* oneRequest() {
    yield { messageRequest: { case: 'listServices' as const, value: '' } };
  }
  const response = await firstMessage(client.serverReflectionInfo(oneRequest()));
  const listed = (response as reflection.ServerReflectionResponse).messageResponse;
  expect(listed.case).toBe('listServicesResponse');
});

describe('every bad token on every method (Connect)', () => {
  const guarded = TaskService.methods.filter((method) => !OPEN_METHODS.has(method.localName as MethodName)).map((method) => method.localName);
  it.each(BAD_TOKENS.map((bad) => [bad.name, bad] as const))('%s', async (_, bad) => {
    for (const name of guarded) {
      const result = await outcome(() => CALLS[name]!(clients.connect!, optionsWith(badHeaders.get(bad.name))));
      expect(result.code, `${name}: ${result.message}`).toBe(Code.Unauthenticated);
      expect(result.message, name).toMatch(bad.message);
    }
  });
});
