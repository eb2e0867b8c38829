import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTaskctl } from '../sdk/typescript/src/cli/taskctl.js';
import { DEV_AUTH } from '../sdk/typescript/src/dev-tokens.js';
import { startTaskApiHarness, type TaskApiHarness } from './support/task-api-harness.js';
import { UUID, run, type RunResult } from './sdk/toolchain.js';

// taskctl token and taskctl keys: the development key pair and the tokens
// signed with it, checked the way task-api checks them (signature against
// jwks.json, issuer, audience, tenant claim, lifetime); then taskctl against
// a real task-api with authentication on, trusting a key made by
// `taskctl keys init`: the token it prints is the one that gets in, and
// every refusal has its exit code and says what to do.

let root: string;
let harness: TaskApiHarness;
/** The key folder the task-api with authentication on trusts. */
let trusted: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'taskproc-taskctl-keys-'));
  trusted = join(root, 'trusted');
  const made = await taskctl(['keys', 'init', '--key-dir', trusted]);
  if (made.code !== 0) throw new Error(`taskctl keys init failed: ${made.stderr}`);
  harness = await startTaskApiHarness('taskctl_auth', (env) => ({
    ...env,
    AUTH_MODE: 'jwt',
    AUTH_JWKS_FILE: join(trusted, 'jwks.json'),
    AUTH_ISSUER: DEV_AUTH.issuer,
    AUTH_AUDIENCE: DEV_AUTH.audience,
  }));
});

afterAll(async () => {
  await harness?.close();
  await rm(root, { recursive: true, force: true });
});

async function taskctl(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  const code = await runTaskctl({
    argv: args,
    env,
    stdin: Readable.from(['']),
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: { write: (chunk: string) => (stderr += chunk) },
  });
  return { code, signal: null, stdout, stderr };
}

async function verify(token: string, keyDir: string) {
  const jwks = JSON.parse(await readFile(join(keyDir, 'jwks.json'), 'utf8'));
  return jwtVerify(token, createLocalJWKSet(jwks), { issuer: DEV_AUTH.issuer, audience: DEV_AUTH.audience, algorithms: ['ES256'] });
}

describe('taskctl keys and token', () => {
  it('makes a key pair once (keys init), and signs tokens task-api accepts for the tenant asked for', async () => {
    const keyDir = join(root, 'init');
    const first = await taskctl(['keys', 'init', '--key-dir', keyDir]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^made a signing key: .*signing-key\.jwk\.json \(kid [\w-]{43}\)\npublic keys: .*jwks\.json \(1, newest first/);
    const again = await taskctl(['--json', 'keys', 'init', '--key-dir', keyDir]);
    expect(JSON.parse(again.stdout)).toMatchObject({ created: false, public_keys: 1 });
    // The private key is its owner's only.
    expect((await stat(join(keyDir, 'signing-key.jwk.json'))).mode & 0o077).toBe(0);

    const issued = await taskctl(['token', '--tenant', 'acme', '--ttl', '30m', '--key-dir', keyDir]);
    expect(issued.code, issued.stderr).toBe(0);
    expect(issued.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const { payload, protectedHeader } = await verify(issued.stdout.trim(), keyDir);
    expect(protectedHeader).toMatchObject({ alg: 'ES256', kid: JSON.parse(again.stdout).kid });
    expect(payload).toMatchObject({ tenant: 'acme', iss: 'taskproc-dev', aud: 'taskproc' });
    expect(payload.exp! - payload.iat!).toBe(1800);
  });

  it('takes the key folder from TASKCTL_SIGNING_KEY_DIR, and defaults to a lifetime of one hour', async () => {
    const keyDir = join(root, 'from-env');
    expect((await taskctl(['keys', 'init'], { TASKCTL_SIGNING_KEY_DIR: keyDir })).code).toBe(0);
    const issued = await taskctl(['--json', 'token', '--tenant', 'team.b@example:eu'], { TASKCTL_SIGNING_KEY_DIR: keyDir });
    const answer = JSON.parse(issued.stdout);
    expect(answer).toMatchObject({ tenant: 'team.b@example:eu', expires_in: 3600 });
    const { payload } = await verify(answer.token, keyDir);
    expect({ tenant: payload.tenant, lifetime: payload.exp! - payload.iat! }).toEqual({ tenant: 'team.b@example:eu', lifetime: 3600 });
  });

  it('rotates: new tokens carry the new key, and tokens of the earlier key still verify', async () => {
    const keyDir = join(root, 'rotate');
    await taskctl(['keys', 'init', '--key-dir', keyDir]);
    const before = (await taskctl(['token', '--tenant', 'acme', '--key-dir', keyDir])).stdout.trim();
    const rotated = await taskctl(['keys', 'rotate', '--key-dir', keyDir]);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).toMatch(/^new signing key: .*\npublic keys: .*\(2, newest first.*\nnew tokens are signed with the new key; tokens of the earlier keys stay valid until they expire/s);
    const after = (await taskctl(['token', '--tenant', 'acme', '--key-dir', keyDir])).stdout.trim();
    const [old, fresh] = [await verify(before, keyDir), await verify(after, keyDir)];
    expect(old.protectedHeader.kid).not.toBe(fresh.protectedHeader.kid);
  });

  it('says how to make a key when there is none, and refuses bad tenants and lifetimes as usage errors', async () => {
    const missing = join(root, 'missing');
    const cases: [string[], number, string][] = [
      [['token', '--tenant', 'acme', '--key-dir', missing], 1, `taskctl: no signing key in ${missing}: run \`make start AUTH_MODE=jwt\` or \`taskctl keys init\``],
      [['token'], 2, 'taskctl: token needs --tenant <name>\nRun "taskctl --help" for usage.'],
      [['token', '--tenant', 'has space'], 2, 'taskctl: --tenant must be 1 to 128 of letters, digits and . _ : @ - (starting with a letter or digit), not "has space"\nRun "taskctl --help" for usage.'],
      [['token', '--tenant', 'acme', '--ttl', '1y'], 2, 'taskctl: --ttl must be a lifetime such as 90s, 30m, 1h or 7d (at most 366 days), not "1y"\nRun "taskctl --help" for usage.'],
      [['keys'], 2, 'taskctl: keys needs an action (init or rotate)\nRun "taskctl --help" for usage.'],
      [['keys', 'delete'], 2, 'taskctl: keys takes init or rotate, not "delete"\nRun "taskctl --help" for usage.'],
      [['get', '--tenant', 'acme', 'x'], 2, 'taskctl: --tenant and --ttl are options of token\nRun "taskctl --help" for usage.'],
      [['list', '--key-dir', missing], 2, 'taskctl: --key-dir is an option of token and keys\nRun "taskctl --help" for usage.'],
    ];
    for (const [args, code, stderr] of cases) {
      const result = await taskctl(args);
      expect({ args, code: result.code, stderr: result.stderr.trim(), stdout: result.stdout }).toEqual({ args, code, stderr, stdout: '' });
    }
  });

  it('documents the token, the keys and the new exit codes in --help', async () => {
    const { stdout } = await taskctl(['--help']);
    for (const text of ['token --tenant <name>', 'keys init', 'keys rotate', '--token <jwt>', '$TASKCTL_TOKEN', '--key-dir', 'export TASKCTL_TOKEN=$(npx taskctl token --tenant acme)', ' 9 not authenticated', '10 too many requests']) {
      expect(stdout).toContain(text);
    }
  });
});

describe('taskctl against a task-api with authentication on', () => {
  const withApi = (env: Record<string, string> = {}) => ({ TASKCTL_URL: harness.api.url, ...env });
  const tokenFor = async (tenant: string, ...extra: string[]) => {
    const issued = await taskctl(['token', '--tenant', tenant, '--key-dir', trusted, ...extra]);
    expect(issued.code, issued.stderr).toBe(0);
    return issued.stdout.trim();
  };

  it.each(['grpc', 'connect', 'grpc-web'])('sends TASKCTL_TOKEN with every call (--transport %s): create, get, list, watch', async (transport) => {
    const token = await tokenFor('acme');
    const env = withApi({ TASKCTL_TOKEN: token, TASKCTL_TRANSPORT: transport });
    const created = await taskctl(['--json', 'create', `behind a token over ${transport}`], env);
    expect(created.code, created.stderr).toBe(0);
    const { id } = JSON.parse(created.stdout);
    expect(id).toMatch(UUID);
    expect(JSON.parse((await taskctl(['--json', 'get', id], env)).stdout).id).toBe(id);
    expect((await taskctl(['--json', 'list', '--limit', '1'], env)).stdout).toContain(id);
    const watched = await taskctl(['--json', '--timeout', '300', 'watch', id], env);
    expect({ code: watched.code, status: JSON.parse(watched.stdout.split('\n')[0]!).status }).toEqual({ code: 7, status: 'pending' });
    // --token wins over TASKCTL_TOKEN.
    expect((await taskctl(['--token', token, 'get', id], withApi({ TASKCTL_TOKEN: 'not-a-token' }))).code).toBe(0);
  });

  it('exits 9 without a token, saying how to get one; health stays open', async () => {
    const refused = await taskctl(['create', 'no token'], withApi());
    expect({ code: refused.code, stdout: refused.stdout }).toEqual({ code: 9, stdout: '' });
    expect(refused.stderr).toBe(
      'taskctl: missing bearer token: send "authorization: Bearer <token>" [UNAUTHENTICATED]\n' +
        'taskctl: no token was sent: set TASKCTL_TOKEN or --token (for a task-api started by `make start AUTH_MODE=jwt`: ' +
        'export TASKCTL_TOKEN=$(npx taskctl token --tenant <name>))\n',
    );
    expect(await taskctl(['health'], withApi())).toMatchObject({ code: 0, stdout: 'ok\n' });
    const rows = await harness.database.query(`select count(*)::int as n from task where content = 'no token'`);
    expect(rows).toEqual([{ n: 0 }]);
  });

  it('exits 9 for a token task-api does not accept, saying which and to get a new one', async () => {
    const strangers = join(root, 'untrusted');
    await taskctl(['keys', 'init', '--key-dir', strangers]);
    const untrusted = (await taskctl(['token', '--tenant', 'acme', '--key-dir', strangers])).stdout.trim();
    for (const [token, message] of [
      [untrusted, /^taskctl: .*key.* \[UNAUTHENTICATED\]$/],
      ['not.a.jwt', /^taskctl: .* \[UNAUTHENTICATED\]$/],
    ] as const) {
      const refused = await taskctl(['list'], withApi({ TASKCTL_TOKEN: token }));
      expect(refused.code).toBe(9);
      const [first, hint] = refused.stderr.trim().split('\n');
      expect(first).toMatch(message);
      expect(hint).toMatch(/^taskctl: the token sent was refused: get a new one \(.*npx taskctl token --tenant <name>\)\)$/);
    }
  });

  it('the printed token is the one task-api accepts, and its lifetime is what --ttl said', async () => {
    const token = await tokenFor('short-lived', '--ttl', '2s');
    expect((await taskctl(['list', '--limit', '1'], withApi({ TASKCTL_TOKEN: token }))).code).toBe(0);
    const { payload } = await verify(token, trusted);
    expect(payload.exp! - payload.iat!).toBe(2);
  });

  it("exits 10 once the tenant's budget is spent, saying when to retry; another tenant is not affected", async () => {
    // A task-api whose tenants may make one request, then one a second.
    const frugal = await startTaskApiHarness('taskctl_budget', (env) => ({
      ...env,
      AUTH_MODE: 'jwt',
      AUTH_JWKS_FILE: join(trusted, 'jwks.json'),
      AUTH_ISSUER: DEV_AUTH.issuer,
      AUTH_AUDIENCE: DEV_AUTH.audience,
      TENANT_RATE_LIMIT_PER_S: '1',
      TENANT_RATE_LIMIT_BURST: '1',
    }));
    try {
      const env = { TASKCTL_URL: frugal.api.url, TASKCTL_TOKEN: await tokenFor('greedy') };
      expect((await taskctl(['list'], env)).code).toBe(0);
      const refused = await taskctl(['list'], env);
      expect({ code: refused.code, stdout: refused.stdout }).toEqual({ code: 10, stdout: '' });
      const [first, hint] = refused.stderr.trim().split('\n');
      expect(first).toMatch(/^taskctl: .*budget.* \[RESOURCE_EXHAUSTED\]$/);
      expect(hint).toBe('taskctl: too many requests: retry after 1 s');
      expect((await taskctl(['list'], { ...env, TASKCTL_TOKEN: await tokenFor('patient') })).code).toBe(0);
    } finally {
      await frugal.close();
    }
  });

  it('runs as `npx taskctl` does, reading TASKCTL_TOKEN from the environment', async () => {
    const token = await tokenFor('acme');
    const result = await run(process.execPath, ['sdk/typescript/bin/taskctl.js', '--json', 'create', 'from the executable'], {
      env: { TASKCTL_URL: harness.api.url, TASKCTL_TOKEN: token },
    });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ content: 'from the executable', status: 'pending' });
  }, 60_000);
});
