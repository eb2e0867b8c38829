import { readFile, rename, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { TaskService } from '@taskproc/contract';
import { rotateDevSigningKey } from '@taskproc/client/dev-tokens';
import { startTaskApiHarness, type TaskApiHarness } from '../../../test/support/task-api-harness.js';
import { captureLogs } from '../../../test/support/log-capture.js';
import { waitFor } from '../../../test/support/wait-for.js';
import { createTestKeys, type TestKeys } from './support/tokens.js';

// Keys rotate while task-api runs: a token of a key added to the JWKS file is
// accepted without a restart (its unknown kid makes task-api read the file
// again), and a key taken out of the file stops verifying once the periodic
// check has seen the change.

const { logger, lines } = captureLogs('info');

let keys: TestKeys;
let harness: TaskApiHarness;
let client: Client<typeof TaskService>;

beforeAll(async () => {
  keys = await createTestKeys('jwks_rotation');
  harness = await startTaskApiHarness('jwks_rotation', (env) => ({ ...env, ...keys.env, AUTH_JWKS_REFRESH_MS: '300' }), logger);
  client = createClient(TaskService, createGrpcTransport({ baseUrl: harness.api.url }));
});

afterAll(async () => {
  await harness?.close();
  await keys?.remove();
});

async function codeWith(token: string): Promise<{ code: Code | 'OK'; message: string }> {
  try {
    await client.listTasks({}, { headers: { authorization: `Bearer ${token}` } });
    return { code: 'OK', message: '' };
  } catch (error) {
    const connectError = ConnectError.from(error);
    return { code: connectError.code, message: connectError.rawMessage };
  }
}

it('accepts a token of a rotated-in key without a restart, and still the old key', async () => {
  const before = await keys.token('acme');
  expect(await codeWith(before)).toEqual({ code: 'OK', message: '' });

  const { kid } = await rotateDevSigningKey(keys.dir);
  const after = await keys.token('acme');
  expect(JSON.parse(Buffer.from(after.split('.')[0]!, 'base64url').toString()).kid).toBe(kid);
  // The kid is new to task-api, which reads the file again at once (at most once a second).
  await waitFor(() => codeWith(after), (result) => result.code === 'OK', { timeoutMs: 5_000, description: 'the new key to be accepted' });
  // The old key is still in the JWKS (rotation keeps the newest three), so its tokens stay valid.
  expect(await codeWith(before)).toEqual({ code: 'OK', message: '' });
});

it('refuses a key taken out of the JWKS once the periodic check has seen the change', async () => {
  const old = await keys.token('acme');
  await rotateDevSigningKey(keys.dir);
  const current = await keys.token('acme');
  await waitFor(() => codeWith(current), (result) => result.code === 'OK', { timeoutMs: 5_000, description: 'the new key to be accepted' });

  // Keep only the newest key, written as the key tools write it (a rename, never half a file).
  const jwks = JSON.parse(await readFile(keys.jwksFile, 'utf8')) as { keys: unknown[] };
  await writeFile(`${keys.jwksFile}.next`, JSON.stringify({ keys: jwks.keys.slice(0, 1) }));
  await rename(`${keys.jwksFile}.next`, keys.jwksFile);

  const refused = await waitFor(() => codeWith(old), (result) => result.code !== 'OK', { timeoutMs: 5_000, description: 'the removed key to be refused' });
  expect(refused).toEqual({ code: Code.Unauthenticated, message: 'token signing key is not known (kid)' });
  expect(await codeWith(current)).toEqual({ code: 'OK', message: '' });
});

it('keeps the keys it has while the file is unreadable, and takes the next good one', async () => {
  const token = await keys.token('acme');
  const good = await readFile(keys.jwksFile, 'utf8');
  const failuresBefore = lines.filter((line) => line.msg === 'token signing keys could not be loaded').length;
  await writeFile(`${keys.jwksFile}.next`, '{"keys": [');
  await rename(`${keys.jwksFile}.next`, keys.jwksFile);
  // Requests drive the periodic check (every 300 ms); wait until one has found the broken file.
  await waitFor(
    async () => {
      expect(await codeWith(token)).toEqual({ code: 'OK', message: '' });
      return lines.filter((line) => line.msg === 'token signing keys could not be loaded' && line.keptKeys === true).length;
    },
    (failures) => failures > failuresBefore,
    { intervalMs: 100, description: 'a check to find the broken JWKS file' },
  );
  expect(await codeWith(token)).toEqual({ code: 'OK', message: '' });

  await writeFile(`${keys.jwksFile}.next`, good);
  await rename(`${keys.jwksFile}.next`, keys.jwksFile);
  await rotateDevSigningKey(keys.dir);
  const next = await keys.token('acme');
  await waitFor(() => codeWith(next), (result) => result.code === 'OK', { timeoutMs: 5_000, description: 'the key after the repair' });
});

it('counts refused tokens by reason', async () => {
  const text = await (await fetch(harness.api.metricsUrl)).text();
  expect(text).toMatch(/^taskproc_auth_failures_total\{reason="unknown_key"\} [1-9]/m);
});
