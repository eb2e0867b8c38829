import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../../../../test/support/wait-for.js';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export interface ProcessorProcess {
  child: ChildProcess;
  /** Parsed JSON log lines the process wrote so far. */
  logs: Record<string, unknown>[];
  /** Resolves with the exit code (or the signal's name) once the process is gone. */
  exited: Promise<number | NodeJS.Signals>;
  waitForLog(text: string, timeoutMs?: number): Promise<void>;
}

/** Runs `src/main.ts` as its own process, as a deployment would, and waits until it consumes. */
export async function spawnProcessor(env: Record<string, string>): Promise<ProcessorProcess> {
  const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', MAIN], {
    env: { PATH: process.env.PATH ?? '', ...env, LOG_LEVEL: 'info' },
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
  const exited = new Promise<number | NodeJS.Signals>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal!)));
  const waitForLog = async (text: string, timeoutMs = 15_000) => {
    await waitFor(() => logs.some((l) => String(l.msg).includes(text)), Boolean, { timeoutMs, description: `log "${text}"` });
  };
  await waitForLog('consuming tasks', 30_000);
  return { child, logs, exited, waitForLog };
}
