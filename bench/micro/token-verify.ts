import { readFileSync } from 'node:fs';
import { SignJWT, importJWK, type JWK } from 'jose';
import { createLogger } from '@taskproc/core';
import { ensureDevSigningKey, devKeyFiles, DEV_AUTH } from '@taskproc/client/dev-tokens';
import { createJwksSource, jwksFileOrigin } from '../../services/task-api/src/auth/jwks-source.js';
import { createTokenVerifier } from '../../services/task-api/src/auth/token-verifier.js';

// CPU per call of task-api's bearer-token check with AUTH_MODE=jwt (ES256,
// keys from a JWKS file, as the auth interceptor builds it), without the
// network or the RPC framework. Two cases: the same token on every call (a
// client's usual traffic), and a token never seen before on every call (the
// signature is checked each time, and the cache of verified tokens fills and
// evicts). The cache holds AUTH_TOKEN_CACHE_SIZE tokens, as in task-api; 0
// turns it off. Usage:
//   node --conditions=development --import tsx bench/micro/token-verify.ts [calls] [key dir] [cache size]

const calls = Number(process.argv[2] ?? 20_000);
const dir = process.argv[3] ?? '.run/bench/micro-keys';
const cacheSize = Number(process.argv[4] ?? 10_000);
const WARM_UP = 2_000;
await ensureDevSigningKey(dir);
const files = devKeyFiles(dir);
const jwk = JSON.parse(readFileSync(files.signingKeyFile, 'utf8')) as JWK;
const signingKey = await importJWK(jwk, jwk.alg);

/** Tokens as `taskctl token` signs them; `subject` makes each one different. */
async function tokens(count: number, label: string): Promise<string[]> {
  const now = Math.floor(Date.now() / 1000);
  const signed: string[] = [];
  for (let i = 0; i < count; i++) {
    signed.push(
      await new SignJWT({ [DEV_AUTH.tenantClaim]: 'acme' })
        .setProtectedHeader({ alg: jwk.alg!, kid: jwk.kid!, typ: 'JWT' })
        .setIssuer(DEV_AUTH.issuer)
        .setAudience(DEV_AUTH.audience)
        .setSubject(`dev:acme:${label}:${i}`)
        .setIssuedAt(now)
        .setNotBefore(now)
        .setExpirationTime(now + 3600)
        .sign(signingKey),
    );
  }
  return signed;
}

const source = createJwksSource(jwksFileOrigin(files.jwksFile), { refreshMs: 60_000, logger: createLogger('bench', 'silent') });
await source.load();
const verifier = createTokenVerifier({ issuer: DEV_AUTH.issuer, audience: DEV_AUTH.audience, tenantClaim: DEV_AUTH.tenantClaim, clockSkewSeconds: 30 }, source.getKey, {
  cache: { maxEntries: cacheSize, keySetWithdrawals: () => source.withdrawals() },
});

async function cpuPerCall(headers: (i: number) => string): Promise<number> {
  const before = process.cpuUsage();
  for (let i = 0; i < calls; i++) await verifier.verify(headers(i));
  const cpu = process.cpuUsage(before);
  return (cpu.user + cpu.system) / calls;
}

const [repeated] = await tokens(1, 'repeated');
const fresh = (await tokens(calls, 'fresh')).map((token) => `Bearer ${token}`);
const warmUp = await tokens(WARM_UP, 'warm-up');
for (const token of warmUp) await verifier.verify(`Bearer ${token}`);
for (let i = 0; i < WARM_UP; i++) await verifier.verify(`Bearer ${repeated}`);

const repeatedHeader = `Bearer ${repeated}`;
const same = await cpuPerCall(() => repeatedHeader);
const different = await cpuPerCall((i) => fresh[i]!);
const cache = cacheSize > 0 ? `cache of ${cacheSize}` : 'no cache';
process.stderr.write(`ES256 bearer token, the same token each call: ${same.toFixed(1)} µs CPU per call (${calls} calls, ${cache})\n`);
process.stderr.write(`ES256 bearer token, a new token each call:   ${different.toFixed(1)} µs CPU per call (${calls} calls, ${cache})\n`);
