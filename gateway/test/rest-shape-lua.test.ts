import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Runs the Envoy Lua rule (gateway/lua/rest_shape.lua) under luajit, the Lua
// dialect of Envoy's Lua filter, against the fixture file that the
// TypeScript rule is tested with too (rest-shape.test.ts).

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HARNESS = 'gateway/test/lua/run_fixtures.lua';
const FIXTURES = JSON.parse(readFileSync(new URL('./fixtures/rest-shape-cases.json', import.meta.url), 'utf8')) as {
  responses: unknown[];
  requests: unknown[];
};

function runLuajit(): Promise<{ stdout: string; exitCode: number }> {
  return new Promise((resolve, reject) => {
    execFile('luajit', [HARNESS, ROOT], { cwd: ROOT }, (error, stdout) => {
      if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new Error('luajit is not installed; install it with: apt-get install -y luajit'));
        return;
      }
      resolve({ stdout, exitCode: error ? Number(error.code ?? 1) : 0 });
    });
  });
}

describe('Envoy Lua REST shape rule under luajit', () => {
  it('passes every shared fixture case, as a pure rule and through the Envoy entry points', async () => {
    const { stdout, exitCode } = await runLuajit();
    const failures = stdout.split('\n').filter((line) => line.startsWith('not ok'));
    expect(failures).toEqual([]);
    expect(exitCode).toBe(0);
    // 8 checks per response case, 2 to 5 per request case, plus the glue cases:
    // a harness that silently skipped cases would fall short of this.
    const passed = Number(/# passed (\d+), failed 0/.exec(stdout)?.[1]);
    expect(passed).toBeGreaterThanOrEqual(FIXTURES.responses.length * 8 + FIXTURES.requests.length * 2);
  });
});
