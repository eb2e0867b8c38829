import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createBenchDatabase } from '../lib/bench-database.js';
import type { PeerRequest, PeerResult } from '../peers/protocol.js';

// The peers: BullMQ on the machine's Redis and pg-boss on its PostgreSQL,
// each in a node process of its own (so its CPU is its own in the ledger)
// running bench/peers/<peer>.ts with bench/peers' own dependencies, on a key
// prefix or database of its own that is removed afterwards.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

export interface PeerShape {
  count: number;
  producers: number;
  runs: number;
  warmup: number;
  consumerSlots: number;
  consumers: number;
}

export async function measureBullmq(redisUrl: string, suffix: string, shape: PeerShape): Promise<PeerResult> {
  const prefix = `taskproc-bench-peer-${suffix}`;
  try {
    return await runPeer('bullmq', { ...shape, url: redisUrl, namespace: prefix });
  } finally {
    await deleteRedisKeys(redisUrl, prefix);
  }
}

export async function measurePgBoss(baseDatabaseUrl: string, suffix: string, shape: PeerShape): Promise<PeerResult> {
  const db = await createBenchDatabase(baseDatabaseUrl, `taskproc_bench_pgboss_${suffix}`, { migrate: false });
  try {
    return await runPeer('pg-boss', { ...shape, url: db.url, namespace: 'bench-tasks' });
  } finally {
    await db.drop();
  }
}

function runPeer(script: string, request: PeerRequest): Promise<PeerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `bench/peers/${script}.ts`, JSON.stringify(request)], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as PeerResult);
      else reject(new Error(`peer ${script} ended with ${signal ?? code}${out ? `: ${out.slice(-500)}` : ''} (npm ci --prefix bench/peers installs its dependencies)`));
    });
  });
}

/** Whatever a peer run left under its key prefix (it removes its queue itself; this is for a run that died). */
async function deleteRedisKeys(redisUrl: string, prefix: string): Promise<void> {
  const url = new URL(redisUrl);
  const args = ['-h', url.hostname, '-p', url.port || '6379'];
  try {
    const { stdout } = await run('redis-cli', [...args, '--scan', '--pattern', `${prefix}:*`]);
    const keys = stdout.split('\n').filter(Boolean);
    for (let i = 0; i < keys.length; i += 500) await run('redis-cli', [...args, 'del', ...keys.slice(i, i + 500)]);
  } catch {
    // redis-cli missing or Redis gone: nothing more to clean here
  }
}
