import { spawn } from 'node:child_process';
import { chownSync, readFileSync } from 'node:fs';

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Run as this system user (only when the suite runs as root; otherwise as the current user). */
  user?: string;
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
  /** Resolve even when the command exits non-zero (the caller inspects `code`). */
  allowFailure?: boolean;
}

export const isRoot = process.getuid?.() === 0;

/**
 * Runs a command to completion and returns its output. As root, `user` makes
 * it run through `runuser -u`, which keeps the environment (the RABBITMQ_*
 * and PG settings) but sets HOME to that user's, where its Erlang cookie lives.
 */
export function exec(command: string, args: string[], options: ExecOptions = {}): Promise<ExecResult> {
  const [file, argv] = isRoot && options.user ? ['runuser', ['-u', options.user, '--', command, ...args]] : [command, args];
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, {
      cwd: options.cwd ?? '/tmp',
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const result = { code, stdout, stderr };
      if (code !== 0 && !options.allowFailure) {
        reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${stderr || stdout}`));
      } else {
        resolve(result);
      }
    });
  });
}

/** Hands a directory to a system user (as root), so a server running as that user can write there. */
export function giveTo(path: string, user: string): void {
  if (!isRoot) return;
  const entry = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
    .find((fields) => fields[0] === user);
  if (!entry) throw new Error(`system user ${user} not found`);
  chownSync(path, Number(entry[2]), Number(entry[3]));
}
