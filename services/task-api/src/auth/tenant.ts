import { createContextKey, type HandlerContext } from '@connectrpc/connect';
import { DEFAULT_TENANT } from '@taskproc/core';

/**
 * The tenant of the caller, set by the authentication interceptor from the
 * verified token (auth-interceptor.ts); every request without
 * authentication (AUTH_MODE=none) belongs to the default tenant. Handlers
 * pass it to every store call, which scopes its SQL by it.
 */
export const tenantKey = createContextKey<string>(DEFAULT_TENANT, { description: 'tenant of the authenticated caller' });

export function tenantOf(context: Pick<HandlerContext, 'values'>): string {
  return context.values.get(tenantKey);
}
