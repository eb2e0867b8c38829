#!/usr/bin/env node
// taskctl launcher. An installed package runs the compiled CLI in dist/.
// Inside the taskproc repository (src/ present, tsx installed) it runs the
// TypeScript source instead, so the CLI is never older than the code.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const source = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

function tsxAvailable() {
  try {
    createRequire(import.meta.url).resolve('tsx');
    return true;
  } catch {
    return false;
  }
}

if (existsSync(source) && tsxAvailable()) {
  const child = spawn(
    process.execPath,
    ['--conditions=development', '--import', 'tsx', source, ...process.argv.slice(2)],
    { stdio: 'inherit' },
  );
  // Ctrl-C reaches the child too (same process group); wait for its answer.
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal === 'SIGINT' ? 130 : 1)));
} else {
  await import('../dist/cli/main.js');
}
