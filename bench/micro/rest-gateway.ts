import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer, constants as h2 } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { CreateTaskResponseSchema, TaskStatus } from '@taskproc/contract';
import { grpcFrame, wrkPost } from '../lib/c-load.js';
import { readServicesFrom } from '../lib/settings.js';
import { assertBuilt, benchNodeArgs, serviceArgs } from '../lib/system.js';

// CPU per REST create of the embedded gateway alone: the gateway process
// (as `make bench` starts it) in front of a canned gRPC upstream (node:http2
// answering every CreateTask with the same framed response and trailers,
// in this process), driven by wrk as the bench's cload phase drives it.
// Without task-api, PostgreSQL and the broker on the same cores, the figure
// moves far less with the machine's load than the end-to-end ledger does:
// what a change to gateway/src buys per request.
//   make build && node --conditions=development --import tsx bench/micro/rest-gateway.ts [seconds=10] [connections=64]
// The gateway runs from its build (gateway/dist/main.js), as `make bench`
// runs it; BENCH_FROM=source runs gateway/src under tsx instead. Set
// BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p") to profile the gateway.

const seconds = Number(process.argv[2] ?? 10);
const connections = Number(process.argv[3] ?? 64);
const root = new URL('../../', import.meta.url).pathname;
const from = readServicesFrom();
assertBuilt(from);

const answer = grpcFrame(
  toBinary(
    CreateTaskResponseSchema,
    create(CreateTaskResponseSchema, {
      task: { id: '0192f3c4-5b6a-7c8d-9e0f-1a2b3c4d5e6f', content: 'bench wrk task', status: TaskStatus.PENDING, createdAt: timestampFromMs(Date.now()) },
    }),
  ),
);
const upstream = createServer();
upstream.on('stream', (stream) => {
  stream.on('error', () => {}); // the gateway's session ends with the run
  stream.on('data', () => {});
  stream.on('end', () => {
    stream.respond({ [h2.HTTP2_HEADER_STATUS]: 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(answer);
  });
});
await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;

const dir = mkdtempSync(join(tmpdir(), 'taskproc-micro-gateway-'));
const logFile = join(dir, 'gateway.log');
const gateway = spawn(process.execPath, [...benchNodeArgs(), ...serviceArgs('gateway', from)], {
  cwd: root,
  env: { PATH: process.env.PATH ?? '', GATEWAY_PORT: '0', GATEWAY_METRICS_PORT: '0', GATEWAY_UPSTREAM_URL: upstreamUrl, LOG_LEVEL: 'info' },
  stdio: ['ignore', openSync(logFile, 'a'), openSync(logFile, 'a')],
});
const exited = new Promise<void>((resolve) => gateway.once('exit', () => resolve()));

try {
  const port = await gatewayPort();
  const url = `http://127.0.0.1:${port}/task`;
  const body = JSON.stringify({ content: 'bench wrk task' });
  await wrkPost({ url, body, connections, seconds: 2 }); // warm-up
  const before = cpuMs(gateway.pid!);
  const run = await wrkPost({ url, body, connections, seconds });
  const used = cpuMs(gateway.pid!) - before;
  if (run.failed > 0 || run.succeeded === 0) throw new Error(`wrk: ${run.failed} failed, ${run.succeeded} answered\n${run.summary}`);
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(
    `gateway: ${((1000 * used) / run.succeeded).toFixed(1)} µs CPU per REST create, ${Math.round(run.succeeded / (run.elapsedMs / 1000))}/s, p50 ${run.p50Ms.toFixed(1)} ms ` +
      `(${run.succeeded} creates in ${seconds} s, ${connections} connections, from the ${from}, load average ${load})`,
  );
} finally {
  gateway.kill('SIGTERM');
  await exited;
  upstream.close();
  rmSync(dir, { recursive: true, force: true });
}

async function gatewayPort(): Promise<number> {
  for (let i = 0; i < 300; i++) {
    const line = readLog().find((l) => l.includes('"gateway listening"'));
    if (line) return Number(/"port":(\d+)/.exec(line)![1]);
    if (gateway.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the gateway did not start:\n${readLog().join('\n')}`);
}

function readLog(): string[] {
  try {
    return readFileSync(logFile, 'utf8').split('\n');
  } catch {
    return [];
  }
}

/** utime + stime of a process, in ms. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / 100; // USER_HZ
}
