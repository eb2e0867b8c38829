import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@taskproc/core';
import { rotateDevSigningKey } from '@taskproc/client/dev-tokens';
import type { JSONWebKeySet, JWTPayload, JWTVerifyGetKey } from 'jose';
import { createJwksSource, type KeySetOrigin } from '../src/auth/jwks-source.js';
import { createTokenVerifier } from '../src/auth/token-verifier.js';
import { LIFETIME_MS, MAX_TOKEN_LENGTH, createVerifiedTokenCache } from '../src/auth/verified-token-cache.js';
import { base64url, createTestKeys, tokenOfStrangeKey, type TestKeys } from './support/tokens.js';

// The cache of verified tokens, through the verifier task-api builds: a token
// sent again skips its signature check, and every answer is the one the
// verifier without the cache would give (expiry to the millisecond, a
// withdrawn key, forged tokens, refusals).

const silent = createLogger('test', 'silent');
const AUTH = { issuer: 'taskproc-dev', audience: 'taskproc', tenantClaim: 'tenant', clockSkewSeconds: 30 };
const SKEW_MS = AUTH.clockSkewSeconds * 1000;
/** The wall clock's start in these tests, on a whole second (NumericDates are seconds). */
const T0 = 1_900_000_000_000;

let keys: TestKeys;
beforeAll(async () => {
  keys = await createTestKeys('token_cache');
});
afterAll(async () => {
  await keys?.remove();
});

const readSet = async () => JSON.parse(await readFile(keys.jwksFile, 'utf8')) as JSONWebKeySet;

/** Good claims for `tenant`, issued at `issuedAt` (wall-clock ms) and valid for `ttlSeconds`. */
function claims(tenant: string, issuedAt = T0, ttlSeconds = 3600, extra: JWTPayload = {}): JWTPayload {
  const iat = Math.floor(issuedAt / 1000);
  return { iss: AUTH.issuer, aud: AUTH.audience, tenant, iat, nbf: iat, exp: iat + ttlSeconds, ...extra };
}

/**
 * A verifier over a key source whose set the test sets, on clocks the test
 * moves: `wall` for exp and nbf, `monotonic` for the key source's checks.
 * `signatureChecks` counts the key look-ups, one per signature checked.
 */
async function setUp(options: { maxEntries?: number; refreshMs?: number } = {}) {
  const origin = { set: await readSet(), changed: true, reads: 0 };
  const source: KeySetOrigin = {
    description: 'test',
    async read() {
      origin.reads += 1;
      if (!origin.changed) return null;
      origin.changed = false;
      return origin.set;
    },
  };
  const clocks = { wall: T0, monotonic: 0 };
  const jwks = createJwksSource(source, { refreshMs: options.refreshMs ?? 10_000, logger: silent, now: () => clocks.monotonic });
  await jwks.load();
  const counts = { signatureChecks: 0 };
  const countedGetKey: JWTVerifyGetKey = (header, token) => {
    counts.signatureChecks += 1;
    return jwks.getKey(header, token);
  };
  const withCache = createTokenVerifier(AUTH, countedGetKey, {
    cache: { maxEntries: options.maxEntries ?? 100, keySetWithdrawals: () => jwks.withdrawals() },
    now: () => clocks.wall,
  });
  const withoutCache = createTokenVerifier(AUTH, jwks.getKey, { now: () => clocks.wall });
  /** The verifier's answer for `token`: its tenant, or the message it was refused with. */
  const answer = (token: string, verifier = withCache) => verifier.verify(`Bearer ${token}`).catch((error: unknown) => `refused: ${(error as Error).message}`);
  return { origin, clocks, jwks, counts, answer, withoutCache };
}

describe('the verified-token cache', () => {
  it('skips the signature check for a token verified before', async () => {
    const { counts, answer } = await setUp();
    const token = await keys.mint(claims('acme'));
    expect(await answer(token)).toBe('acme');
    expect(counts.signatureChecks).toBe(1);
    for (let i = 0; i < 5; i++) expect(await answer(token)).toBe('acme');
    expect(counts.signatureChecks).toBe(1);
    // Another token of the same tenant is its own entry.
    expect(await answer(await keys.mint(claims('acme', T0, 3600, { jti: 'another' })))).toBe('acme');
    expect(counts.signatureChecks).toBe(2);
  });

  it('refuses a token from the same millisecond as the verifier without the cache does', async () => {
    const { clocks, counts, answer, withoutCache } = await setUp();
    const ttlSeconds = 20; // shorter than the cache's own lifetime, so exp decides
    const token = await keys.mint(claims('acme', T0, ttlSeconds));
    expect(await answer(token)).toBe('acme');
    const refusedFrom = T0 + ttlSeconds * 1000 + SKEW_MS;
    clocks.wall = refusedFrom - 1;
    expect(await answer(token)).toBe('acme');
    expect(await answer(token, withoutCache)).toBe('acme');
    expect(counts.signatureChecks).toBe(1); // still from the cache
    clocks.wall = refusedFrom;
    expect(await answer(token, withoutCache)).toBe('refused: token expired');
    expect(await answer(token)).toBe('refused: token expired');
  });

  it('checks the signature again once an entry is a minute old, however long the token lasts', async () => {
    const { clocks, counts, answer } = await setUp();
    const token = await keys.mint(claims('acme', T0, 3600));
    await answer(token);
    clocks.wall = T0 + LIFETIME_MS - 1;
    await answer(token);
    expect(counts.signatureChecks).toBe(1);
    clocks.wall = T0 + LIFETIME_MS;
    expect(await answer(token)).toBe('acme');
    expect(counts.signatureChecks).toBe(2);
  });

  it('refuses a token of a withdrawn key from the first call after the check that saw it', async () => {
    const { origin, clocks, jwks, counts, answer } = await setUp();
    const old = await keys.mint(claims('acme'));
    await rotateDevSigningKey(keys.dir);
    const current = await keys.mint(claims('acme'));
    origin.set = await readSet();
    origin.changed = true;
    // A key added: no key withdrawn, the tokens verified stay in the cache.
    clocks.monotonic += 10_000;
    expect(await answer(old)).toBe('acme'); // from the cache; starts the periodic check
    await jwks.load(); // that check, done
    expect(await answer(current)).toBe('acme');
    const checks = counts.signatureChecks;
    expect(await answer(old)).toBe('acme');
    expect(await answer(current)).toBe('acme');
    expect(counts.signatureChecks).toBe(checks);

    // The old key taken out: a cache hit still starts the periodic check (nothing else would).
    origin.set = { keys: origin.set.keys.slice(0, 1) };
    origin.changed = true;
    clocks.monotonic += 10_000;
    const readsBefore = origin.reads;
    expect(await answer(old)).toBe('acme'); // the keys in hand serve while the check runs, as without the cache
    expect(origin.reads).toBe(readsBefore + 1);
    await jwks.load();
    expect(await answer(old)).toBe('refused: token signing key is not known (kid)');
    expect(await answer(current)).toBe('acme');
  });

  it('holds at most its bound of tokens, the oldest going first, and never a long token', async () => {
    const { counts, answer } = await setUp({ maxEntries: 3 });
    const tokens = await Promise.all([0, 1, 2, 3, 4].map((i) => keys.mint(claims('acme', T0, 3600, { jti: `token-${i}` }))));
    for (const token of tokens) await answer(token);
    expect(counts.signatureChecks).toBe(5);
    for (const token of tokens.slice(2)) await answer(token);
    expect(counts.signatureChecks).toBe(5); // the newest three, from the cache
    await answer(tokens[0]!);
    expect(counts.signatureChecks).toBe(6); // evicted, so checked again (and now the newest)
    await answer(tokens[0]!);
    expect(counts.signatureChecks).toBe(6);

    const long = await keys.mint(claims('acme', T0, 3600, { padding: 'x'.repeat(MAX_TOKEN_LENGTH) }));
    expect(long.length).toBeGreaterThan(MAX_TOKEN_LENGTH);
    expect(await answer(long)).toBe('acme');
    expect(await answer(long)).toBe('acme');
    expect(counts.signatureChecks).toBe(8);
  });

  it("refuses a forged payload or header carrying a cached token's signature", async () => {
    const { answer } = await setUp();
    const token = await keys.mint(claims('acme'));
    expect(await answer(token)).toBe('acme');
    const [header, , signature] = token.split('.') as [string, string, string];
    const forgedPayload = `${header}.${base64url(claims('globex'))}.${signature}`;
    expect(await answer(forgedPayload)).toBe('refused: token signature does not verify');
    const forgedHeader = `${base64url({ ...JSON.parse(Buffer.from(header, 'base64url').toString()), typ: 'at+jwt' })}.${token.split('.')[1]}.${signature}`;
    expect(await answer(forgedHeader)).toBe('refused: token signature does not verify');
    expect(await answer(token)).toBe('acme');
  });

  it('remembers no refusal, and no token valid only thanks to the clock skew', async () => {
    const { counts, answer } = await setUp();
    const refused = [
      await keys.mint(claims('acme', T0, 3600, { aud: 'another-api' })),
      await keys.mint(claims('not a tenant name')),
      await keys.mint(claims('acme', T0 - 7_200_000, 3600)),
      await tokenOfStrangeKey(claims('acme')),
    ];
    for (const token of refused) {
      const first = await answer(token);
      expect(first).toMatch(/^refused: /);
      const checks = counts.signatureChecks;
      expect(await answer(token)).toBe(first);
      expect(counts.signatureChecks).toBeGreaterThan(checks); // looked at again, not answered from memory
    }

    const early = await keys.mint(claims('acme', T0 + 10_000)); // nbf 10 s ahead, within the 30 s skew
    expect(await answer(early)).toBe('acme');
    expect(await answer(early)).toBe('acme');
    expect(counts.signatureChecks).toBe(refused.length * 2 + 2);
  });

  it('with a bound of 0 checks every signature', async () => {
    const { counts, answer } = await setUp({ maxEntries: 0 });
    const token = await keys.mint(claims('acme'));
    for (let i = 0; i < 3; i++) expect(await answer(token)).toBe('acme');
    expect(counts.signatureChecks).toBe(3);
  });

  it('never holds more than its bound, evicting the oldest tenth when full', async () => {
    const cache = createVerifiedTokenCache({ maxEntries: 50, clockSkewSeconds: 30, keySetWithdrawals: () => 0, now: () => T0 });
    const verified = { tenant: 'acme', exp: T0 / 1000 + 3600 };
    let verifications = 0;
    const verify = async () => {
      verifications += 1;
      return verified;
    };
    const sizes: number[] = [];
    for (let i = 0; i < 500; i++) {
      await cache.tenantOf(`token-${i}`, verify);
      sizes.push(cache.size);
    }
    expect(Math.max(...sizes)).toBe(50);
    expect(sizes.at(-1)).toBeGreaterThanOrEqual(45);
    await cache.tenantOf('token-499', verify);
    await cache.tenantOf('token-0', verify);
    expect(verifications).toBe(501); // the newest still held, the first long gone
  });

  it('does not remember a token whose key was withdrawn while its signature was being checked', async () => {
    let withdrawals = 0;
    const cache = createVerifiedTokenCache({ maxEntries: 10, clockSkewSeconds: 30, keySetWithdrawals: () => withdrawals, now: () => T0 });
    const verified = { tenant: 'acme', exp: T0 / 1000 + 3600 };
    const tenant = await cache.tenantOf('a.b.c', async () => {
      withdrawals += 1;
      return verified;
    });
    expect(tenant).toBe('acme'); // this call was checked against the keys it started with
    expect(cache.size).toBe(0);
    await cache.tenantOf('a.b.c', async () => verified);
    expect(cache.size).toBe(1);
  });
});
