import type { Interceptor } from '@connectrpc/connect';
import { UnavailableError, type Logger } from '@taskproc/core';
import { Counter, type Registry } from 'prom-client';
import type { AuthConfig, JwtAuthConfig } from '../config.js';
import { createJwksSource, jwksFileOrigin, jwksUrlOrigin, type JwksSource } from './jwks-source.js';
import { isOpenProcedure } from './open-procedures.js';
import { tenantKey } from './tenant.js';
import { TokenRejectedError, createTokenVerifier, type TokenVerifier } from './token-verifier.js';

export interface Authentication {
  interceptor: Interceptor;
  /**
   * Loads the signing keys once before the server listens. A JWKS file that
   * cannot be read fails the start (a deployment mistake to fix now); a JWKS
   * URL that cannot be fetched only logs, since an identity provider that is
   * down a moment must not keep task-api from starting (its requests get
   * UNAVAILABLE until the keys arrive).
   */
  loadKeys(): Promise<void>;
}

/**
 * Proves who calls: each request that is not open (open-procedures.ts)
 * carries a bearer JWT whose tenant claim goes into the request's context
 * values (tenantKey), where handlers and the tenant limits read it. With
 * AUTH_MODE=none nothing is checked and every caller is the default tenant.
 *
 * Failures are typed (TokenRejectedError: UNAUTHENTICATED, UnavailableError
 * when the keys cannot be loaded) and become ConnectErrors in the
 * error-mapping interceptor outside this one.
 */
export function createAuthentication(config: AuthConfig, registry: Registry, logger: Logger): Authentication {
  if (config.mode === 'none') {
    logger.warn('authentication is off (AUTH_MODE=none): every caller is the default tenant');
    return { interceptor: (next) => next, loadKeys: async () => {} };
  }
  const failures = new Counter({
    name: 'taskproc_auth_failures_total',
    help: 'Requests refused for their credentials, by reason (missing, malformed, expired, signature, ...; keys_unavailable when the JWKS could not be loaded).',
    labelNames: ['reason'],
    registers: [registry],
  });
  const keys = jwksSourceOf(config, logger.child({ component: 'jwks' }));
  const verifier = createTokenVerifier(config, keys.getKey, {
    cache: { maxEntries: config.tokenCacheSize, keySetWithdrawals: () => keys.withdrawals() },
  });
  return {
    interceptor: authInterceptor(verifier, (reason) => failures.inc({ reason })),
    async loadKeys() {
      const { jwks } = config;
      if (jwks.kind === 'url') return keys.load().catch(() => {}); // logged by the source
      await keys.load().catch((error: unknown) => {
        throw new Error(`AUTH_JWKS_FILE ${jwks.path} cannot be used: ${(error as Error).message}`, { cause: error });
      });
    },
  };
}

export function authInterceptor(verifier: TokenVerifier, onFailure: (reason: string) => void = () => {}): Interceptor {
  return (next) => async (request) => {
    if (isOpenProcedure(request)) return next(request);
    let tenant: string;
    try {
      tenant = await verifier.verify(request.header.get('authorization'));
    } catch (error) {
      if (error instanceof TokenRejectedError) onFailure(error.reason);
      else if (error instanceof UnavailableError) onFailure('keys_unavailable');
      throw error;
    }
    // The server makes one ContextValues per request (app.ts), which the handler receives as `context.values`.
    request.contextValues.set(tenantKey, tenant);
    return next(request);
  };
}

function jwksSourceOf(config: JwtAuthConfig, logger: Logger): JwksSource {
  const origin = config.jwks.kind === 'file' ? jwksFileOrigin(config.jwks.path) : jwksUrlOrigin(config.jwks.url, config.jwksTimeoutMs);
  return createJwksSource(origin, { refreshMs: config.jwksRefreshMs, logger });
}
