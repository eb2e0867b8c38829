import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { Code, ConnectError, createClient, createRouterTransport, type Interceptor } from '@connectrpc/connect';
import { TaskService } from '@taskproc/contract';
import { createLogger } from '@taskproc/core';
import { rotateDevSigningKey } from '@taskproc/client/dev-tokens';
import type { JSONWebKeySet } from 'jose';
import { Registry } from 'prom-client';
import { authInterceptor, createAuthentication } from '../src/auth/auth-interceptor.js';
import { UNKNOWN_KEY_RECHECK_MS, createJwksSource, jwksFileOrigin, type KeySetOrigin } from '../src/auth/jwks-source.js';
import { tenantOf } from '../src/auth/tenant.js';
import { createTokenVerifier } from '../src/auth/token-verifier.js';
import { toConnectError } from '../src/error-mapping.js';
import { claimsFor, createTestKeys, tokenOfStrangeKey } from './support/tokens.js';

// The authentication interceptor and the key source on an in-memory
// transport: the verified tenant is what handlers read from their context,
// and the JWKS is read again only as often as it should be.

const silent = createLogger('test', 'silent');
const AUTH = { issuer: 'taskproc-dev', audience: 'taskproc', tenantClaim: 'tenant', clockSkewSeconds: 30 };

const mapErrors: Interceptor = (next) => async (request) => {
  try {
    return await next(request);
  } catch (error) {
    throw toConnectError(error);
  }
};

/** A TaskService whose GetTask answers with the tenant its handler sees. */
function clientBehind(interceptor: Interceptor) {
  const transport = createRouterTransport(({ service }) => service(TaskService, { getTask: (_request, context) => ({ task: { id: tenantOf(context) } }) }), {
    router: { interceptors: [mapErrors, interceptor] },
  });
  return createClient(TaskService, transport);
}

describe('the authentication interceptor', () => {
  it("hands the token's tenant to the handler", async () => {
    const keys = await createTestKeys('auth_interceptor');
    try {
      const source = createJwksSource(jwksFileOrigin(keys.jwksFile), { refreshMs: 60_000, logger: silent });
      const client = clientBehind(authInterceptor(createTokenVerifier(AUTH, source.getKey)));
      const answer = await client.getTask({}, { headers: { authorization: `Bearer ${await keys.token('acme')}` } });
      expect(answer.task?.id).toBe('acme');
      const refused = await client.getTask({}).catch((error: unknown) => ConnectError.from(error));
      expect(refused).toMatchObject({ code: Code.Unauthenticated, rawMessage: expect.stringMatching(/^missing bearer token/) });
    } finally {
      await keys.remove();
    }
  });

  it('with AUTH_MODE=none leaves every caller the default tenant, whatever it sends', async () => {
    const auth = createAuthentication({ mode: 'none' }, new Registry(), silent);
    await auth.loadKeys();
    const client = clientBehind(auth.interceptor);
    expect((await client.getTask({})).task?.id).toBe('default');
    expect((await client.getTask({}, { headers: { authorization: 'Bearer not-even-a-jwt' } })).task?.id).toBe('default');
  });

  it('fails the start when the JWKS file cannot be read, naming AUTH_JWKS_FILE', async () => {
    const auth = createAuthentication(
      { mode: 'jwt', jwks: { kind: 'file', path: '/nonexistent/jwks.json' }, jwksRefreshMs: 60_000, jwksTimeoutMs: 1_000, tokenCacheSize: 10_000, ...AUTH },
      new Registry(),
      silent,
    );
    await expect(auth.loadKeys()).rejects.toThrow(/^AUTH_JWKS_FILE \/nonexistent\/jwks.json cannot be used: ENOENT/);
  });
});

describe('the JWKS source', () => {
  /** An origin that counts its reads and serves whatever set the test gives it. */
  function countingOrigin(initial: JSONWebKeySet) {
    const origin = { set: initial, reads: 0, changed: true };
    const source: KeySetOrigin = {
      description: 'test',
      async read() {
        origin.reads += 1;
        if (!origin.changed) return null;
        origin.changed = false;
        return origin.set;
      },
    };
    return { origin, source };
  }

  it('checks for new keys once per refresh period, and at once (at most once a second) for an unknown kid', async () => {
    const keys = await createTestKeys('jwks_source');
    try {
      const readSet = async () => JSON.parse(await readFile(keys.jwksFile, 'utf8')) as JSONWebKeySet;
      const { origin, source } = countingOrigin(await readSet());
      const clock = { ms: 0 };
      const jwks = createJwksSource(source, { refreshMs: 10_000, logger: silent, now: () => clock.ms });
      const verifier = createTokenVerifier(AUTH, jwks.getKey);
      const token = await keys.token('acme');

      expect(await verifier.verify(`Bearer ${token}`)).toBe('acme');
      expect(origin.reads).toBe(1);
      clock.ms += 5_000;
      await verifier.verify(`Bearer ${token}`);
      expect(origin.reads).toBe(1); // within the refresh period
      clock.ms += 5_000;
      await verifier.verify(`Bearer ${token}`);
      expect(origin.reads).toBe(2); // the period passed: checked (in the background)

      await rotateDevSigningKey(keys.dir);
      const rotated = await keys.token('acme');
      origin.set = await readSet();
      origin.changed = true;
      // Checked just now (a moment ago on this clock): the unknown kid waits for the next second.
      await expect(verifier.verify(`Bearer ${rotated}`)).rejects.toThrow('token signing key is not known (kid)');
      expect(origin.reads).toBe(2);
      clock.ms += UNKNOWN_KEY_RECHECK_MS;
      expect(await verifier.verify(`Bearer ${rotated}`)).toBe('acme');
      expect(origin.reads).toBe(3);
      // Made-up kids cannot make it read more than once a second.
      for (let i = 0; i < 20; i++) await expect(verifier.verify(`Bearer ${await tokenOfStrangeKey(claimsFor('acme'))}`)).rejects.toThrow('not known');
      expect(origin.reads).toBe(3);
    } finally {
      await keys.remove();
    }
  });
});
