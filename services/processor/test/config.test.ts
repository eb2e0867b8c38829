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

describe('readProcessorConfig: handlers and failures', () => {
  it('defaults to the seed wait, 3 attempts, a 1 s to 60 s backoff and a cap of 5 interruptions', () => {
    expect(readProcessorConfig(required)).toMatchObject({
      taskHandler: null,
      taskTimeoutMs: 60_000,
      taskMaxAttempts: 3,
      taskRetryBaseMs: 1_000,
      taskRetryMaxMs: 60_000,
      taskMaxInterruptions: 5,
    });
  });

  it('reads the handler and failure settings', () => {
    const config = readProcessorConfig({
      ...required,
      TASK_HANDLER: './my-handler.ts',
      TASK_TIMEOUT_MS: '5000',
      TASK_MAX_ATTEMPTS: '1',
      TASK_RETRY_BASE_MS: '10',
      TASK_RETRY_MAX_MS: '10',
      TASK_MAX_INTERRUPTIONS: '2',
    });
    expect(config).toMatchObject({ taskHandler: './my-handler.ts', taskTimeoutMs: 5_000, taskMaxAttempts: 1, taskRetryBaseMs: 10, taskRetryMaxMs: 10, taskMaxInterruptions: 2 });
  });

  it('keeps the default timeout below a short stale period, and refuses a timeout that is not below it', () => {
    expect(readProcessorConfig({ ...required, TASK_STALE_AFTER_MS: '10000' }).taskTimeoutMs).toBe(5_000);
    expect(() => readProcessorConfig({ ...required, TASK_STALE_AFTER_MS: '10000', TASK_TIMEOUT_MS: '10000' })).toThrow(
      /TASK_TIMEOUT_MS \(10000\) must be below TASK_STALE_AFTER_MS \(10000\)/,
    );
  });

  it('refuses a retry maximum below the base, and attempts or interruptions of 0', () => {
    expect(() => readProcessorConfig({ ...required, TASK_RETRY_BASE_MS: '500', TASK_RETRY_MAX_MS: '100' })).toThrow(/TASK_RETRY_MAX_MS \(100\) must be at least TASK_RETRY_BASE_MS \(500\)/);
    expect(() => readProcessorConfig({ ...required, TASK_MAX_ATTEMPTS: '0', TASK_MAX_INTERRUPTIONS: '0' })).toThrow(/TASK_MAX_ATTEMPTS[\s\S]*TASK_MAX_INTERRUPTIONS/);
  });
});
