import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// Every service process runs with the V8 heap bounds of .env.dev's
// NODE_OPTIONS: `make start`, `make bench` and the fault suite read it from
// there, the runtime image sets the same value. These checks keep the two
// copies equal and the value one that Node accepts and that bounds the heap.

const ENV_DEV_OPTIONS = /^NODE_OPTIONS="([^"\n]*)"\s*$/m.exec(readFileSync('.env.dev', 'utf8'))?.[1];
const DOCKERFILE = readFileSync('Dockerfile', 'utf8');
const RUNTIME_STAGE = DOCKERFILE.slice(DOCKERFILE.search(/^FROM \S+ AS runtime$/m));

describe('NODE_OPTIONS of the services', () => {
  it('is set, double-quoted for the shell, in .env.dev', () => {
    expect(ENV_DEV_OPTIONS).toMatch(/--max-old-space-size=\d+/);
    expect(ENV_DEV_OPTIONS).toMatch(/--max-semi-space-size=\d+/);
  });

  it('is the same in the runtime image', () => {
    expect(RUNTIME_STAGE.length).toBeLessThan(DOCKERFILE.length);
    expect(/^ENV NODE_OPTIONS="([^"\n]*)"$/m.exec(RUNTIME_STAGE)?.[1]).toBe(ENV_DEV_OPTIONS);
  });

  it('is accepted by Node and bounds the heap well below 300 MiB', () => {
    const limit = execFileSync(process.execPath, ['-p', 'require("node:v8").getHeapStatistics().heap_size_limit'], {
      env: { PATH: process.env.PATH ?? '', NODE_OPTIONS: ENV_DEV_OPTIONS },
      encoding: 'utf8',
    });
    const mib = Number(limit) / 2 ** 20;
    expect(mib).toBeGreaterThan(100);
    expect(mib).toBeLessThanOrEqual(256);
  });
});
