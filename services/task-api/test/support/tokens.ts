import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, generateKeyPair, importJWK, type JWK, type JWTPayload } from 'jose';
import { DEV_AUTH, ensureDevSigningKey, signDevToken, type DevKeyFiles } from '@taskproc/client/dev-tokens';

/** A development key pair in a directory of its own, and the settings that make task-api trust it. */
export interface TestKeys extends DevKeyFiles {
  dir: string;
  /** AUTH_* settings for a task-api that verifies tokens against this key directory's JWKS file. */
  env: Record<string, string>;
  /** A good token for `tenant`, signed by the current key. */
  token(tenant: string, options?: { ttlSeconds?: number; issuer?: string; audience?: string; tenantClaim?: string }): Promise<string>;
  /** A token signed by the current key with exactly these header fields and claims (for bad tokens). */
  mint(claims: JWTPayload, header?: Record<string, unknown>): Promise<string>;
  remove(): Promise<void>;
}

export async function createTestKeys(label: string): Promise<TestKeys> {
  const dir = await mkdtemp(join(tmpdir(), `taskproc-${label}-`));
  const files = await ensureDevSigningKey(dir);
  return {
    dir,
    ...files,
    env: {
      AUTH_MODE: 'jwt',
      AUTH_JWKS_FILE: files.jwksFile,
      AUTH_JWKS_URL: '',
      AUTH_ISSUER: DEV_AUTH.issuer,
      AUTH_AUDIENCE: DEV_AUTH.audience,
      AUTH_TENANT_CLAIM: DEV_AUTH.tenantClaim,
    },
    token: (tenant, options = {}) => signDevToken({ signingKeyFile: files.signingKeyFile, tenant, ...options }),
    async mint(claims, header = {}) {
      const jwk = JSON.parse(await readFile(files.signingKeyFile, 'utf8')) as JWK;
      return new SignJWT(claims).setProtectedHeader({ alg: jwk.alg!, kid: jwk.kid!, ...header }).sign(await importJWK(jwk, jwk.alg));
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Claims a good token carries, `at` seconds from now (negative: in the past). */
export function claimsFor(tenant: string | undefined, at = 0): JWTPayload {
  const now = Math.floor(Date.now() / 1000) + at;
  return {
    iss: DEV_AUTH.issuer,
    aud: DEV_AUTH.audience,
    ...(tenant === undefined ? {} : { [DEV_AUTH.tenantClaim]: tenant }),
    iat: now,
    nbf: now,
    exp: now + 3600,
  };
}

/** A token signed by a key nobody trusts, with that key's own kid. */
export async function tokenOfStrangeKey(claims: JWTPayload): Promise<string> {
  const { privateKey } = await generateKeyPair('ES256');
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'a-key-no-one-published' }).sign(privateKey);
}

export const base64url = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
