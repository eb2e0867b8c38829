import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ENV_TEST = fileURLToPath(new URL('../../.env.test', import.meta.url));

/** The settings in .env.test, overridden by any variable already set in the environment. */
export function loadTestEnv(overrides: Record<string, string> = {}): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of readFileSync(ENV_TEST, 'utf8').split('\n')) {
    const match = /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (match) values[match[1]!] = process.env[match[1]!] ?? match[2]!;
  }
  return { ...values, ...overrides };
}

/** A short random suffix for names of per-test databases, queues and namespaces. */
export function uniqueSuffix(): string {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}
