// Container health check for task-api: asks the standard gRPC health service
// (grpc.health.v1.Health/Check) of the server in this container and exits 0
// only when it answers SERVING.
//
// Why a script: the node image has no grpc_health_probe, and a static binary
// cannot be fetched where this project is built. This uses the ConnectRPC
// client and the generated health descriptors the service itself ships with,
// so it needs nothing beyond what the image already holds.
//
//   node deploy/probes/grpc-health.mjs [service]
//
// service defaults to "" (the server as a whole). Reads TASK_API_PORT (default
// 50051) and TASK_API_HOST; a wildcard bind address is probed on loopback.
// Exit codes: 0 SERVING; 1 any other status, an error, or no answer in time.

import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { health } from '@taskproc/contract';

const TIMEOUT_MS = 3_000;
const WILDCARDS = new Set(['', '0.0.0.0', '::', '[::]']);

const port = process.env.TASK_API_PORT || '50051';
const bound = process.env.TASK_API_HOST ?? '';
const host = WILDCARDS.has(bound) ? '127.0.0.1' : bound;
const service = process.argv[2] ?? '';
const ServingStatus = health.HealthCheckResponse_ServingStatus;

const client = createClient(health.Health, createGrpcTransport({ baseUrl: `http://${host}:${port}` }));
try {
  const { status } = await client.check({ service }, { timeoutMs: TIMEOUT_MS });
  if (status === ServingStatus.SERVING) process.exit(0);
  process.stderr.write(`grpc-health: ${host}:${port} answers ${ServingStatus[status] ?? status}\n`);
} catch (error) {
  process.stderr.write(`grpc-health: ${host}:${port}: ${error instanceof Error ? error.message : String(error)}\n`);
}
// Explicit exit: the HTTP/2 session would otherwise keep the process alive.
process.exit(1);
