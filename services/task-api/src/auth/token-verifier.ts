import { errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import { UnauthenticatedError } from '@taskproc/core';
import type { JwtAuthConfig } from '../config.js';
import { createVerifiedTokenCache, type VerifiedToken } from './verified-token-cache.js';

/** Signature algorithms accepted: asymmetric only, so a leaked JWKS cannot mint tokens (no HS*, never "none"). */
export const ACCEPTED_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const;

/** Longest token accepted; identity providers' tokens are far smaller, and a bound keeps parsing cheap. */
export const MAX_TOKEN_BYTES = 8 * 1024;

/** What a tenant claim must look like (also a safe label and log value). */
export const TENANT_NAME = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

/** Why a token was refused: a fixed set, so it can label a metric. */
export type TokenRejection =
  | 'missing'
  | 'malformed'
  | 'too_large'
  | 'algorithm'
  | 'unknown_key'
  | 'signature'
  | 'expired'
  | 'not_yet_valid'
  | 'issuer'
  | 'audience'
  | 'claims'
  | 'tenant';

/** UNAUTHENTICATED with a message for the caller about its own token, and why (for metrics). */
export class TokenRejectedError extends UnauthenticatedError {
  constructor(
    readonly reason: TokenRejection,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface TokenVerifier {
  /**
   * The tenant of the caller whose `authorization` header this is. Throws
   * TokenRejectedError for any header or token that does not prove it, and
   * UnavailableError when the signing keys cannot be loaded.
   */
  verify(authorization: string | null): Promise<string>;
}

export interface TokenVerifierSettings {
  /**
   * Remember verified tokens (verified-token-cache.ts), so a token sent
   * again skips its signature check; off when absent or `maxEntries` is 0.
   */
  cache?: { maxEntries: number; keySetWithdrawals: () => number };
  /** Wall-clock milliseconds that `exp` and `nbf` are checked against (tests inject their own). */
  now?: () => number;
}

export function createTokenVerifier(
  config: Pick<JwtAuthConfig, 'issuer' | 'audience' | 'tenantClaim' | 'clockSkewSeconds'>,
  getKey: JWTVerifyGetKey,
  settings: TokenVerifierSettings = {},
): TokenVerifier {
  const now = settings.now ?? Date.now;
  const options: JWTVerifyOptions = {
    algorithms: [...ACCEPTED_ALGORITHMS],
    issuer: config.issuer,
    audience: config.audience,
    clockTolerance: config.clockSkewSeconds,
    requiredClaims: ['exp'],
  };
  const claim = config.tenantClaim;
  const verifyToken = async (token: string): Promise<VerifiedToken> => {
    checkShape(token);
    const payload = await verifySignatureAndClaims(token, getKey, { ...options, currentDate: new Date(now()) });
    const tenant = payload[claim];
    if (tenant === undefined) throw new TokenRejectedError('tenant', `token has no "${claim}" claim naming its tenant`);
    if (typeof tenant !== 'string' || !TENANT_NAME.test(tenant)) {
      throw new TokenRejectedError('tenant', `token's "${claim}" claim is not a valid tenant name`);
    }
    // exp is required and a number (jose checked both); nbf, when present, a number.
    return { tenant, exp: payload.exp!, nbf: payload.nbf };
  };
  const { cache: cacheSettings } = settings;
  const cache =
    cacheSettings && cacheSettings.maxEntries > 0
      ? createVerifiedTokenCache({ ...cacheSettings, clockSkewSeconds: config.clockSkewSeconds, now })
      : null;
  return {
    async verify(authorization) {
      const token = bearerToken(authorization);
      if (cache === null) return (await verifyToken(token)).tenant;
      return cache.tenantOf(token, () => verifyToken(token));
    },
  };
}

function bearerToken(authorization: string | null): string {
  if (authorization === null) throw new TokenRejectedError('missing', 'missing bearer token: send "authorization: Bearer <token>"');
  // Measured before anything else, so a huge header costs no parsing.
  if (authorization.length > MAX_TOKEN_BYTES + 'Bearer '.length) throw new TokenRejectedError('too_large', `token too large (more than ${MAX_TOKEN_BYTES} bytes)`);
  if (authorization.trim() === '') throw new TokenRejectedError('missing', 'empty authorization header: send "authorization: Bearer <token>"');
  // The scheme is case-insensitive (RFC 7235); the token is one word.
  const match = /^bearer(?: +(\S*))? *$/i.exec(authorization);
  if (!match) throw new TokenRejectedError('malformed', 'authorization header is not "Bearer <token>"');
  if (!match[1]) throw new TokenRejectedError('missing', 'empty bearer token');
  return match[1];
}

/** Checks what jose would report only as "invalid", so the caller learns what is wrong with its token. */
function checkShape(token: string): void {
  if (token.length > MAX_TOKEN_BYTES) throw new TokenRejectedError('too_large', `token too large (more than ${MAX_TOKEN_BYTES} bytes)`);
  const parts = token.split('.');
  if (parts.length !== 3) throw new TokenRejectedError('malformed', 'token is not a JWT: it needs three parts separated by dots');
  const [header, payload, signature] = parts as [string, string, string];
  // The header first: an unsigned token (alg "none", empty signature) is told so.
  checkAlgorithm(decodeHeader(header));
  if (!BASE64URL.test(payload) || !BASE64URL.test(signature)) throw new TokenRejectedError('malformed', 'token is not a JWT: its payload or signature is empty or not base64url');
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

function decodeHeader(part: string): object {
  let header: unknown;
  try {
    if (!BASE64URL.test(part)) throw new Error('not base64url');
    header = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new TokenRejectedError('malformed', 'token header is not base64url-encoded JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new TokenRejectedError('malformed', 'token header is not a JSON object');
  return header;
}

function checkAlgorithm(header: { alg?: unknown }): void {
  if (header.alg === 'none') throw new TokenRejectedError('algorithm', 'unsigned token (alg "none") not accepted');
  if (typeof header.alg !== 'string' || !(ACCEPTED_ALGORITHMS as readonly string[]).includes(header.alg)) {
    throw new TokenRejectedError('algorithm', `token algorithm not accepted (accepted: ${ACCEPTED_ALGORITHMS.join(', ')})`);
  }
}

async function verifySignatureAndClaims(token: string, getKey: JWTVerifyGetKey, options: JWTVerifyOptions): Promise<JWTPayload> {
  try {
    return (await jwtVerify(token, getKey, options)).payload;
  } catch (error) {
    if (error instanceof errors.JWKSMultipleMatchingKeys) return verifyWithAnyOf(token, error, options);
    throw rejectionOf(error);
  }
}

/** A token without `kid` that several keys could have signed: the first key that verifies it wins. */
async function verifyWithAnyOf(token: string, candidates: errors.JWKSMultipleMatchingKeys, options: JWTVerifyOptions): Promise<JWTPayload> {
  let last: unknown = new errors.JWSSignatureVerificationFailed();
  for await (const key of candidates) {
    try {
      return (await jwtVerify(token, key, options)).payload;
    } catch (error) {
      last = error;
      if (!(error instanceof errors.JWSSignatureVerificationFailed)) break; // the claims fail whichever key signed
    }
  }
  throw rejectionOf(last);
}

/** jose's errors as what the caller should hear; anything else (UnavailableError, bugs) passes unchanged. */
function rejectionOf(error: unknown): unknown {
  const reject = (reason: TokenRejection, message: string) => new TokenRejectedError(reason, message, { cause: error });
  if (error instanceof errors.JWTExpired) return reject('expired', 'token expired');
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'nbf':
        return reject('not_yet_valid', 'token not yet valid (nbf)');
      case 'iss':
        return reject('issuer', 'token issuer not accepted');
      case 'aud':
        return reject('audience', 'token audience not accepted');
      case 'exp':
        return reject('claims', 'token has no valid expiry (exp)');
      default:
        return reject('claims', `token claim "${error.claim}" is not valid`);
    }
  }
  if (error instanceof errors.JWKSNoMatchingKey) return reject('unknown_key', 'token signing key is not known (kid)');
  if (error instanceof errors.JWSSignatureVerificationFailed) return reject('signature', 'token signature does not verify');
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) return reject('algorithm', 'token algorithm not accepted');
  if (error instanceof errors.JWTInvalid) return reject('claims', 'token claims are not a JSON object');
  if (error instanceof errors.JWSInvalid) return reject('malformed', 'token is not a valid JWS');
  return error;
}
