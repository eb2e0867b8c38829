import { describe, expect, it } from 'vitest';
import { ConfigError, EnvReader, redact } from '../src/config/env.js';
import { readSharedConfig } from '../src/config/shared.js';

const valid = { DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/x', AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672' };

describe('EnvReader', () => {
  it('reads defaults and freezes the result', () => {
    const reader = new EnvReader(valid);
    const config = reader.done(readSharedConfig(reader));
    expect(config).toMatchObject({ databasePoolSize: 10, queueNamespace: 'taskproc', logLevel: 'info' });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('names every missing or malformed variable at once', () => {
    const reader = new EnvReader({ DATABASE_POOL_SIZE: 'many', LOG_LEVEL: 'loud', AMQP_URL: 'http://x' });
    readSharedConfig(reader);
    let error: unknown;
    try {
      reader.done({});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of ['DATABASE_URL is required', 'DATABASE_POOL_SIZE', 'LOG_LEVEL', 'AMQP_URL must be a amqp: or amqps: URL']) {
      expect(message).toContain(name);
    }
  });

  it('does not print passwords of malformed URLs', () => {
    expect(redact('amqp://user:secret@host')).toBe('amqp://user:***@host');
  });
});
