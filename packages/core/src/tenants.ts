// The one home of what a tenant name is. The database mirrors the pattern in
// the CHECK constraint task_tenant_check (see the tenants migration), so a
// name no accepted token could carry cannot be stored either.

/**
 * The tenant of every task created without authentication (AUTH_MODE=none),
 * and of every task that existed before tasks had tenants.
 */
export const DEFAULT_TENANT = 'default';

/** A tenant name: 1 to 128 characters, starting with a letter or digit. */
export const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
