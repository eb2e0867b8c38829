import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from '../../support/wait-for.js';

const run = promisify(execFile);

/** Debian's prometheus package (installed by `make test` through scripts/install-toolchains.sh). */
export const PROMETHEUS_BIN = '/usr/bin/prometheus';
export const PROMTOOL_BIN = '/usr/bin/promtool';

/** Fails with what to do when Debian's prometheus package is missing. */
export function requirePrometheusPackage(): void {
  for (const bin of [PROMETHEUS_BIN, PROMTOOL_BIN]) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: install Debian's prometheus package (make toolchains does)`);
  }
}

export interface ScrapeTarget {
  job: string;
  /** host:port */
  address: string;
}

export interface RunningPrometheus {
  url: string;
  /** The value of an instant PromQL query that yields one sample (or the sum of several), or null for none. */
  scalar(query: string): Promise<number | null>;
  /** The raw result vector of an instant query. */
  vector(query: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  close(): Promise<void>;
}

/** `promtool check metrics` on an exposition text: resolves with its findings, rejects when it fails. */
export async function promtoolCheckMetrics(text: string): Promise<string> {
  requirePrometheusPackage();
  return new Promise((resolve, reject) => {
    const child = execFile(PROMTOOL_BIN, ['check', 'metrics'], (error, stdout, stderr) => {
      if (error) reject(new Error(`promtool check metrics failed: ${stdout}${stderr}`));
      else resolve(`${stdout}${stderr}`);
    });
    child.stdin!.end(text);
  });
}

export async function promtoolCheckConfig(file: string): Promise<string> {
  requirePrometheusPackage();
  const { stdout, stderr } = await run(PROMTOOL_BIN, ['check', 'config', file]);
  return `${stdout}${stderr}`;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * A real Prometheus on a free loopback port, with a configuration and data
 * directory of its own, scraping `targets` every second.
 */
export async function startPrometheus(targets: ScrapeTarget[]): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'taskproc-prometheus-'));
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    'scrape_configs:',
    ...targets.flatMap((t) => [`  - job_name: ${t.job}`, '    static_configs:', `      - targets: ['${t.address}']`]),
    '',
  ].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), config);
  await promtoolCheckConfig(join(dir, 'prometheus.yml'));
  const port = await freePort();
  const child: ChildProcess = spawn(
    PROMETHEUS_BIN,
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const query = async (promql: string) => {
    const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`, { signal: AbortSignal.timeout(5_000) });
    const body = (await response.json()) as { status: string; error?: string; data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] } };
    if (body.status !== 'success') throw new Error(`PromQL ${promql}: ${body.error}`);
    return body.data.result;
  };
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited: ${stderr}`);
        return (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) })).ok;
      },
      Boolean,
      { timeoutMs: 90_000, intervalMs: 200, description: 'Prometheus to be ready' },
    );
  } catch (error) {
    await close();
    throw error;
  }
  return {
    url,
    vector: query,
    async scalar(promql) {
      const result = await query(promql);
      if (result.length === 0) return null;
      return result.reduce((sum, sample) => sum + Number(sample.value[1]), 0);
    },
    close,
  };
}
