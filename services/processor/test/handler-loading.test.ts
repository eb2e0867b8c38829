import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@taskproc/core';
import { loadHandler } from '../src/tasks/load-handler.js';
import { startProcessor } from '../src/processor.js';
import { createHarness, type Harness } from './support/harness.js';
import { captureLogs } from '../../../test/support/log-capture.js';
import { waitFor } from '../../../test/support/wait-for.js';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** Runs the processor's entry until it exits; returns its exit code and stderr. */
function runProcessor(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', MAIN], {
      cwd: REPO,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('exit', (code) => resolve({ code, stderr }));
  });
}

describe('TASK_HANDLER', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await createHarness('processor_handler_loading');
  });

  afterAll(async () => {
    await harness?.close();
  });

  it('loads a handler module by path, relative to the working directory or absolute', async () => {
    expect(typeof (await loadHandler('examples/handlers/fail-on-purpose.ts', REPO))).toBe('function');
    expect(typeof (await loadHandler(`${REPO}examples/handlers/hang.ts`, '/'))).toBe('function');
  });

  it('resolves a package name as an import (here a package that exists but exports no handler)', async () => {
    await expect(loadHandler('@taskproc/handler', REPO)).rejects.toThrow(/TASK_HANDLER "@taskproc\/handler" has no default export that is a function/);
  });

  it('refuses a module that cannot be loaded or has no default export, naming TASK_HANDLER', async () => {
    await expect(loadHandler('./no/such/handler.ts', REPO)).rejects.toThrow(ConfigError);
    await expect(loadHandler('./no/such/handler.ts', REPO)).rejects.toThrow(/TASK_HANDLER "\.\/no\/such\/handler\.ts" cannot be loaded/);
    await expect(loadHandler('no-such-package-of-taskproc', REPO)).rejects.toThrow(/TASK_HANDLER "no-such-package-of-taskproc" cannot be loaded/);
    await expect(loadHandler('test/support/handlers/no-default-export.ts', REPO)).rejects.toThrow(/TASK_HANDLER .* has no default export that is a function/);
  });

  it('stops the processor at start with exit code 78 and a message naming TASK_HANDLER', async () => {
    const { code, stderr } = await runProcessor(harness.processEnv({ TASK_HANDLER: './no/such/handler.ts' }));
    expect(code).toBe(78);
    expect(stderr).toContain('TASK_HANDLER "./no/such/handler.ts" cannot be loaded');
    expect(stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
  });

  it('runs the named handler with the attempt number, a signal and a logger carrying the task id', async () => {
    const logs = captureLogs('info');
    const processor = await startProcessor(harness.configWith({ TASK_HANDLER: 'examples/handlers/hash-content.ts' }), logs.logger);
    try {
      const task = await harness.createTask('hash me');
      await waitFor(() => harness.statusOf(task.id), (s) => s === 'completed', { timeoutMs: 30_000, description: 'the task completed' });
      const [line] = logs.matching('content hashed');
      expect(line).toMatchObject({ taskId: task.id, attempt: 1, digest: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect(logs.matching('task handler loaded')[0]).toMatchObject({ handler: 'examples/handlers/hash-content.ts' });
    } finally {
      await processor.close();
    }
  });
});
