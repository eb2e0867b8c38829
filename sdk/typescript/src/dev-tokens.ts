import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';

/**
 * Signing keys and tokens for local development and tests: `make start
 * AUTH_MODE=jwt` keeps a key pair in `.run/auth/` (git-ignored) and
 * `taskctl token` signs with it. In production the identity provider signs
 * tokens and task-api reads its JWKS; nothing here is used.
 */
export const DEV_AUTH = Object.freeze({
  issuer: 'taskproc-dev',
  audience: 'taskproc',
  tenantClaim: 'tenant',
  /** Relative to the repository root. */
  dir: '.run/auth',
});

export interface DevKeyFiles {
  /** The private key (a JWK with `kid` and `alg`), readable by its owner only. */
  signingKeyFile: string;
  /** The public keys task-api (and Envoy) verify against: every key made in `dir`, newest first. */
  jwksFile: string;
}

export function devKeyFiles(dir: string): DevKeyFiles {
  return { signingKeyFile: join(dir, 'signing-key.jwk.json'), jwksFile: join(dir, 'jwks.json') };
}

/** Makes a key pair in `dir` unless one is there; returns its files and whether it made one. */
export async function ensureDevSigningKey(dir: string): Promise<DevKeyFiles & { created: boolean }> {
  const files = devKeyFiles(dir);
  try {
    await readFile(files.signingKeyFile);
    return { ...files, created: false };
  } catch {
    await rotateDevSigningKey(dir);
    return { ...files, created: true };
  }
}

/**
 * Makes a new ES256 key pair: its private key becomes the signing key, and
 * its public key goes first in the JWKS beside the earlier ones, so tokens
 * signed before the rotation stay valid until they expire (drop old keys
 * from jwks.json by hand once they have).
 */
export async function rotateDevSigningKey(dir: string, keep = 3): Promise<DevKeyFiles & { kid: string }> {
  const files = devKeyFiles(dir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const earlier = await readJwks(files.jwksFile);
  const keys = [{ ...publicJwk, kid, alg: 'ES256', use: 'sig' }, ...earlier.filter((key) => key.kid !== kid)].slice(0, keep);
  await writeAtomically(files.jwksFile, `${JSON.stringify({ keys }, null, 2)}\n`, 0o644);
  await writeAtomically(files.signingKeyFile, `${JSON.stringify({ ...(await exportJWK(privateKey)), kid, alg: 'ES256' })}\n`, 0o600);
  return { ...files, kid };
}

export interface DevTokenOptions {
  signingKeyFile: string;
  tenant: string;
  /** Lifetime in seconds (default one hour). */
  ttlSeconds?: number;
  issuer?: string;
  audience?: string;
  tenantClaim?: string;
  subject?: string;
}

/** A JWT signed with the development key, carrying the tenant claim. */
export async function signDevToken(options: DevTokenOptions): Promise<string> {
  const jwk = JSON.parse(await readFile(options.signingKeyFile, 'utf8')) as JWK;
  const key = await importJWK(jwk, jwk.alg);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ [options.tenantClaim ?? DEV_AUTH.tenantClaim]: options.tenant })
    .setProtectedHeader({ alg: jwk.alg!, kid: jwk.kid!, typ: 'JWT' })
    .setIssuer(options.issuer ?? DEV_AUTH.issuer)
    .setAudience(options.audience ?? DEV_AUTH.audience)
    .setSubject(options.subject ?? `dev:${options.tenant}`)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + (options.ttlSeconds ?? 3600))
    .sign(key);
}

/** "90s", "30m", "1h", "7d" or a plain number of seconds; null when it is none of these. */
export function parseTtl(text: string): number | null {
  const match = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!match) return null;
  const seconds = Number(match[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  return seconds > 0 && seconds <= 366 * 86_400 ? seconds : null;
}

async function readJwks(file: string): Promise<JWK[]> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as { keys?: JWK[] };
    return Array.isArray(parsed.keys) ? parsed.keys : [];
  } catch {
    return [];
  }
}

/** Readers (task-api re-reading the JWKS) never see half a file. */
async function writeAtomically(file: string, text: string, mode: number): Promise<void> {
  const partial = `${file}.${process.pid}.partial`;
  await writeFile(partial, text, { mode });
  await chmod(partial, mode);
  await rename(partial, file);
}
