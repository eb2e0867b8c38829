import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../../support/wait-for.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ENTRIES = {
  'task-api': 'services/task-api/src/main.ts',
  processor: 'services/processor/src/main.ts',
  gateway: 'gateway/src/main.ts',
} as const;

export interface ServiceProcess {
  /** Parsed JSON log lines so far. */
  logs: Record<string, unknown>[];
  waitForLog(text: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** SIGTERM, and the exit (a graceful stop exports the spans still buffered). */
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Runs a service's main.ts as its own process, as a deployment does. */
export function spawnService(name: keyof typeof ENTRIES, env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', ENTRIES[name]], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const logs: Record<string, unknown>[] = [];
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ msg: line });
      }
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    logs,
    // Generous: three tsx processes starting at once on a loaded machine take a while.
    waitForLog: (text, timeoutMs = 120_000) =>
      waitFor(
        () => {
          if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
          return logs.find((l) => String(l.msg).includes(text));
        },
        (line) => line !== undefined,
        { timeoutMs, description: `${name} to log "${text}"` },
      ) as Promise<Record<string, unknown>>,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
