import { describe, expect, it } from 'vitest';
import { ConfigError } from '@taskproc/core';
import { readProcessorConfig } from '../src/config.js';

const required = { DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/taskproc', AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672' };

describe('readProcessorConfig', () => {
  it('applies the documented defaults and freezes the result', () => {
    const config = readProcessorConfig(required);
    expect(config).toMatchObject({ prefetch: 100, processingDurationMs: 3_000, shutdownGraceMs: 10_000, queueNamespace: 'taskproc' });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads the processor settings', () => {
    const config = readProcessorConfig({ ...required, PROCESSOR_PREFETCH: '7', PROCESSING_DURATION_MS: '250', PROCESSOR_SHUTDOWN_GRACE_MS: '0' });
    expect(config).toMatchObject({ prefetch: 7, processingDurationMs: 250, shutdownGraceMs: 0 });
  });

  it('names every invalid variable at once', () => {
    const read = () => readProcessorConfig({ ...required, AMQP_URL: 'http://nope', PROCESSOR_PREFETCH: '0', PROCESSING_DURATION_MS: 'soon' });
    expect(read).toThrow(ConfigError);
    expect(read).toThrow(/AMQP_URL[\s\S]*PROCESSOR_PREFETCH[\s\S]*PROCESSING_DURATION_MS/);
  });
});
