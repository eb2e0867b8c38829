import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// Helpers of the SDK proof tests (test/sdk-*.test.ts, test/taskctl.test.ts).

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** The one apt-get line that installs everything the SDK tests and `make sdk` need. */
export const APT_INSTALL =
  'apt-get update && apt-get install -y protobuf-compiler protobuf-compiler-grpc python3-grpcio python3-protobuf ' +
  'protoc-gen-go protoc-gen-go-grpc golang-go golang-google-grpc-dev golang-google-protobuf-dev golang-github-golang-protobuf-1-5-dev';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end (or until timeoutMs, when it is killed) and returns what it printed. Never rejects on a non-zero exit. */
export function run(
  command: string,
  args: string[],
  { env = {}, timeoutMs = 30_000, input }: { env?: Record<string, string>; timeoutMs?: number; input?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      { cwd: repoRoot, env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && typeof error.code === 'string') return reject(error); // could not start, e.g. ENOENT
        resolve({ code: child.exitCode, signal: child.signalCode, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/**
 * Fails (never skips) with what to install when a tool the test needs is
 * missing: the SDK proofs are part of `make test`.
 */
export async function requireToolchain(what: string, probe: () => Promise<boolean> | boolean): Promise<void> {
  let ok = false;
  try {
    ok = await probe();
  } catch {
    ok = false;
  }
  if (!ok) throw new Error(`${what} is missing; the SDK tests need Debian's toolchain. Install it with:\n  ${APT_INSTALL}`);
}

export async function commandSucceeds(command: string, args: string[]): Promise<boolean> {
  return (await run(command, args, { timeoutMs: 20_000 })).code === 0;
}

export function pathsExist(...paths: string[]): boolean {
  return paths.every((path) => existsSync(path));
}

/** Canonical text form of a UUID. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** RFC 3339 UTC, as protobuf's JSON and Go print Timestamps. */
export const RFC3339_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;
