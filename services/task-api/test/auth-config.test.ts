import { describe, expect, it } from 'vitest';
import { ConfigError } from '@taskproc/core';
import { readTaskApiConfig } from '../src/config.js';

// The AUTH_* and TENANT_* settings: defaults, the rules across them, and
// errors that name the variable to fix.

const BASE = { DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/x', AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672' };
const JWT = { ...BASE, AUTH_MODE: 'jwt', AUTH_JWKS_FILE: '/keys/jwks.json', AUTH_ISSUER: 'https://id.example', AUTH_AUDIENCE: 'taskproc' };

function problemsOf(env: Record<string, string>): string {
  try {
    readTaskApiConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('the configuration was accepted');
}

describe('auth settings', () => {
  it('default to no authentication and the documented limits', () => {
    const config = readTaskApiConfig(BASE);
    expect(config.auth).toEqual({ mode: 'none' });
    expect(config.limits).toEqual({ ratePerSecond: 1000, burst: 2000, maxWatchStreams: 100 });
  });

  it('read a JWKS file with the defaults of the other settings', () => {
    expect(readTaskApiConfig(JWT).auth).toEqual({
      mode: 'jwt',
      jwks: { kind: 'file', path: '/keys/jwks.json' },
      issuer: 'https://id.example',
      audience: 'taskproc',
      tenantClaim: 'tenant',
      clockSkewSeconds: 30,
      jwksRefreshMs: 60_000,
      jwksTimeoutMs: 5_000,
      tokenCacheSize: 10_000,
    });
  });

  it('read a JWKS URL and every setting given', () => {
    const env = {
      ...JWT,
      AUTH_JWKS_FILE: '',
      AUTH_JWKS_URL: 'https://id.example/.well-known/jwks.json',
      AUTH_TENANT_CLAIM: 'org_id',
      AUTH_CLOCK_SKEW_S: '5',
      AUTH_JWKS_REFRESH_MS: '300000',
      AUTH_JWKS_TIMEOUT_MS: '2000',
      AUTH_TOKEN_CACHE_SIZE: '0',
    };
    expect(readTaskApiConfig(env).auth).toMatchObject({
      jwks: { kind: 'url', url: 'https://id.example/.well-known/jwks.json' },
      tenantClaim: 'org_id',
      clockSkewSeconds: 5,
      jwksRefreshMs: 300_000,
      jwksTimeoutMs: 2_000,
      tokenCacheSize: 0,
    });
  });

  it('with jwt, need exactly one JWKS source', () => {
    expect(problemsOf({ ...JWT, AUTH_JWKS_FILE: '' })).toContain('AUTH_MODE=jwt needs exactly one of AUTH_JWKS_FILE and AUTH_JWKS_URL');
    expect(problemsOf({ ...JWT, AUTH_JWKS_URL: 'https://id.example/jwks' })).toContain('exactly one of AUTH_JWKS_FILE and AUTH_JWKS_URL');
  });

  it('with jwt, need the issuer and the audience, and name both at once', () => {
    const problems = problemsOf({ ...JWT, AUTH_ISSUER: '', AUTH_AUDIENCE: '' });
    expect(problems).toContain('AUTH_ISSUER is required when AUTH_MODE=jwt');
    expect(problems).toContain('AUTH_AUDIENCE is required when AUTH_MODE=jwt');
  });

  it('refuse malformed values, naming the variable, even while authentication is off', () => {
    const problems = problemsOf({
      ...BASE,
      AUTH_MODE: 'oauth',
      AUTH_JWKS_URL: 'ftp://id.example/jwks',
      AUTH_CLOCK_SKEW_S: '-1',
      AUTH_JWKS_REFRESH_MS: 'soon',
      AUTH_JWKS_TIMEOUT_MS: '0',
      AUTH_TOKEN_CACHE_SIZE: '-1',
    });
    for (const expected of [
      'AUTH_MODE must be one of none, jwt, got "oauth"',
      'AUTH_JWKS_URL must be a https: or http: URL',
      'AUTH_CLOCK_SKEW_S must be an integer from 0 to 300',
      'AUTH_JWKS_REFRESH_MS must be an integer',
      'AUTH_JWKS_TIMEOUT_MS must be an integer from 100',
      'AUTH_TOKEN_CACHE_SIZE must be an integer from 0',
    ]) {
      expect(problems).toContain(expected);
    }
  });

  it('with jwt, refuse a JWKS URL that is no URL', () => {
    expect(problemsOf({ ...JWT, AUTH_JWKS_FILE: '', AUTH_JWKS_URL: 'not a url' })).toContain('AUTH_JWKS_URL must be a URL');
  });
});

describe('tenant limit settings', () => {
  it('accept 0 as "off" for the budget and the stream cap', () => {
    expect(readTaskApiConfig({ ...BASE, TENANT_RATE_LIMIT_PER_S: '0', TENANT_MAX_WATCH_STREAMS: '0' }).limits).toEqual({ ratePerSecond: 0, burst: 2000, maxWatchStreams: 0 });
  });

  it('refuse negative or non-integer values and a burst below 1', () => {
    const problems = problemsOf({ ...BASE, TENANT_RATE_LIMIT_PER_S: '-5', TENANT_RATE_LIMIT_BURST: '0', TENANT_MAX_WATCH_STREAMS: '2.5' });
    expect(problems).toContain('TENANT_RATE_LIMIT_PER_S must be an integer from 0');
    expect(problems).toContain('TENANT_RATE_LIMIT_BURST must be an integer from 1');
    expect(problems).toContain('TENANT_MAX_WATCH_STREAMS must be an integer from 0');
  });
});
