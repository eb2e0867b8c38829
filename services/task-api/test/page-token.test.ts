import { describe, expect, it } from 'vitest';
import { ConfigError, InvalidArgumentError } from '@taskproc/core';
import { readTaskApiConfig } from '../src/config.js';
import { PageTokenCodec } from '../src/listing/page-token.js';

// The ListTasks page token on its own: what it carries, and every way a
// token that this service did not issue for these parameters is refused.

const SECRET = 'a page token key of at least 32 characters';
const POSITION = { createdAt: '2024-10-28T08:04:08.990161Z', id: '0193f1f2-7c1e-7a55-9a0e-3f2b1c4d5e6f' };

describe('PageTokenCodec', () => {
  const TENANT = 'tenant-a';

  it('carries the position exactly, microseconds and all, for the tenant and filter it was issued for', () => {
    const codec = new PageTokenCodec(SECRET);
    for (const status of [null, 'pending', 'failed'] as const) {
      const token = codec.encode({ tenant: TENANT, status, position: POSITION });
      expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(codec.decode(token, { tenant: TENANT, status })).toEqual(POSITION);
    }
    const early = { createdAt: '1969-12-31T23:59:59.000001Z', id: POSITION.id };
    expect(codec.decode(codec.encode({ tenant: TENANT, status: null, position: early }), { tenant: TENANT, status: null })).toEqual(early);
  });

  it('refuses a token signed with another key, replayed with another filter, cut short or padded', () => {
    const codec = new PageTokenCodec(SECRET);
    const token = codec.encode({ tenant: TENANT, status: 'pending', position: POSITION });
    const pending = { tenant: TENANT, status: 'pending' } as const;
    expect(refusal(() => new PageTokenCodec(`${SECRET}!`).decode(token, pending))).toMatch(/page_token is not a token this service issued/);
    expect(refusal(() => codec.decode(token, { tenant: TENANT, status: null }))).toMatch(/page_token was issued for another status filter/);
    expect(refusal(() => codec.decode(token, { tenant: TENANT, status: 'completed' }))).toMatch(/another status filter/);
    expect(refusal(() => codec.decode(token.slice(0, -1), pending))).toMatch(/page_token/);
    expect(refusal(() => codec.decode(`${token}AA`, pending))).toMatch(/page_token/);
    expect(refusal(() => codec.decode(`${token.slice(0, 10)}+${token.slice(11)}`, pending))).toMatch(/page_token/);
  });

  it("refuses another tenant's token as it refuses a forged one, whatever its filter", () => {
    const codec = new PageTokenCodec(SECRET);
    const forged = 'A'.repeat(56); // 42 bytes: the length of a token, with a tag that does not verify
    for (const status of [null, 'pending'] as const) {
      const token = codec.encode({ tenant: TENANT, status, position: POSITION });
      const other = refusal(() => codec.decode(token, { tenant: 'tenant-b', status }));
      expect(other).toBe(refusal(() => codec.decode(forged, { tenant: 'tenant-b', status })));
      expect(other).toBe('page_token is not a token this service issued');
      // A prefix or extension of the name is another tenant too.
      expect(refusal(() => codec.decode(token, { tenant: 'tenant-', status }))).toBe(other);
      expect(refusal(() => codec.decode(token, { tenant: `${TENANT}a`, status }))).toBe(other);
    }
  });

  it('makes a key per process when no secret is configured: its tokens mean nothing to another process', () => {
    const scope = { tenant: TENANT, status: null };
    const token = new PageTokenCodec(null).encode({ ...scope, position: POSITION });
    expect(() => new PageTokenCodec(null).decode(token, scope)).toThrow(InvalidArgumentError);
  });
});

/** The message an InvalidArgumentError refusal carries, or 'accepted'. */
function refusal(call: () => unknown): string {
  try {
    call();
    return 'accepted';
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return (error as Error).message;
  }
}

describe('listing and watching settings', () => {
  const base = { DATABASE_URL: 'postgresql://localhost/x', AMQP_URL: 'amqp://localhost' };

  it('refuses a PAGE_TOKEN_SECRET shorter than 32 characters, naming it', () => {
    expect(() => readTaskApiConfig({ ...base, PAGE_TOKEN_SECRET: 'short' })).toThrow(ConfigError);
    expect(() => readTaskApiConfig({ ...base, PAGE_TOKEN_SECRET: 'short' })).toThrow(/PAGE_TOKEN_SECRET/);
  });

  it('reads the watch limits, with their defaults', () => {
    expect(readTaskApiConfig(base).watching).toEqual({ pageTokenSecret: null, maxStreams: 10_000, streamBufferMessages: 256, keepAliveMs: 15_000 });
    expect(() => readTaskApiConfig({ ...base, WATCH_MAX_STREAMS: '0' })).toThrow(/WATCH_MAX_STREAMS/);
    expect(readTaskApiConfig({ ...base, PAGE_TOKEN_SECRET: SECRET, WATCH_KEEPALIVE_MS: '500' }).watching).toMatchObject({ pageTokenSecret: SECRET, keepAliveMs: 500 });
  });
});
