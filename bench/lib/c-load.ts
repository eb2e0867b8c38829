import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { percentile } from './stats.js';

// Load from C load generators, so that the driver does not compete with the
// system for the two cores as much as a Node.js client does: h2load
// (nghttp2-client) sends framed gRPC requests over HTTP/2, wrk sends REST
// requests over HTTP/1.1. Both are installed by `make bench`
// (bench/install-tools.sh). Neither reads gRPC trailers, so a gRPC error
// (HTTP 200 with grpc-status != 0) looks like a success to h2load: the
// scenarios count what reached the database instead.

export interface CLoadResult {
  tool: 'h2load' | 'wrk';
  /** Requests answered with a 2xx status. */
  succeeded: number;
  failed: number;
  /** Wall-clock ms (Date.now()) just before the tool started, and the tool's own elapsed time. */
  startedAt: number;
  elapsedMs: number;
  p50Ms: number;
  p99Ms: number;
  /** The tool's summary lines, for the results JSON. */
  summary: string;
}

/** The gRPC length-prefixed message: flag 0 (uncompressed), 4-byte big-endian length, the protobuf bytes. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/**
 * `requests` unary gRPC calls of one framed `body` to `url` (scheme, host,
 * port and /package.Service/Method), `streams` at a time on `connections`
 * HTTP/2 connections (cleartext, prior knowledge).
 */
export async function h2loadGrpc(options: { url: string; body: Uint8Array; requests: number; streams: number; connections: number; timeoutSeconds?: number }): Promise<CLoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'taskproc-bench-h2load-'));
  try {
    const bodyFile = join(dir, 'body.bin');
    const logFile = join(dir, 'requests.tsv');
    writeFileSync(bodyFile, options.body);
    const perConnection = Math.max(1, Math.ceil(options.streams / options.connections));
    const startedAt = Date.now();
    const out = await run('h2load', [
      `--requests=${options.requests}`,
      `--clients=${options.connections}`,
      `--max-concurrent-streams=${perConnection}`,
      '--threads=1',
      `--data=${bodyFile}`,
      '--header=content-type: application/grpc',
      '--header=te: trailers',
      `--log-file=${logFile}`,
      ...(options.timeoutSeconds ? [`--connection-inactivity-timeout=${options.timeoutSeconds}`] : []),
      options.url,
    ]);
    const finished = /finished in ([\d.]+)(m?s)/.exec(out);
    const counts = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
    const status = /status codes: (\d+) 2xx/.exec(out);
    if (!finished || !counts || !status) throw new Error(`h2load: unexpected output:\n${out}`);
    // Per request: start (µs since the epoch), HTTP status, µs until the response ended.
    const latencies = readFileSync(logFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split('\t'))
      .filter((f) => f[1] === '200')
      .map((f) => Number(f[2]) / 1000);
    const ok = Number(status[1]);
    return {
      tool: 'h2load',
      succeeded: ok,
      failed: options.requests - ok,
      startedAt,
      elapsedMs: Number(finished[1]) * (finished[2] === 'ms' ? 1 : 1000),
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      summary: out.split('\n').filter((l) => /^(finished|requests|status codes|time for request)/.test(l.trim())).join('\n'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** POSTs of one JSON `body` to `url` from `connections` keep-alive connections for `seconds`. */
export async function wrkPost(options: { url: string; body: string; connections: number; seconds: number; timeoutSeconds?: number }): Promise<CLoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'taskproc-bench-wrk-'));
  try {
    const script = join(dir, 'post.lua');
    writeFileSync(
      script,
      `wrk.method = "POST"
wrk.body = ${JSON.stringify(options.body)}
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK_RESULT %d %d %d %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout, latency:percentile(50), latency:percentile(99)))
end
`,
    );
    const startedAt = Date.now();
    const out = await run('wrk', ['--threads=1', `--connections=${options.connections}`, `--duration=${options.seconds}s`, `--timeout=${options.timeoutSeconds ?? 30}s`, `--script=${script}`, options.url]);
    const result = /WRK_RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)/.exec(out);
    if (!result) throw new Error(`wrk: unexpected output:\n${out}`);
    const [requests, durationUs, connect, read, write, status, timeout, p50Us, p99Us] = result.slice(1).map(Number) as number[];
    const failed = connect! + read! + write! + status! + timeout!;
    return {
      tool: 'wrk',
      succeeded: requests! - status!,
      failed,
      startedAt,
      elapsedMs: durationUs! / 1000,
      p50Ms: p50Us! / 1000,
      p99Ms: p99Us! / 1000,
      summary: out.split('\n').filter((l) => /requests in|Requests\/sec|Socket errors|Non-2xx/.test(l)).map((l) => l.trim()).join('\n'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.once('error', (error) => reject(new Error(`${command} could not start (${error.message}); make bench installs it (bench/install-tools.sh)`)));
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} exited with ${code}:\n${out.slice(-2000)}`))));
  });
}
