import { execFile } from 'node:child_process';
import { createServer as createHttp2Server } from 'node:http2';
import { createServer as createTcpServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { health } from '@taskproc/contract';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHealthService } from '../services/task-api/src/grpc-health.js';

// The container health checks in deploy/probes, run as docker-compose.yml
// runs them (a node process with the service's environment), against real
// sockets on loopback.

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Outcome {
  code: number;
  stderr: string;
}

/** Runs a probe script; development conditions resolve @taskproc/* to src/ as in the tests. */
function runProbe(script: string, args: string[], env: Record<string, string>): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--conditions=development', '--import', 'tsx', `deploy/probes/${script}`, ...args],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 },
      (error, _stdout, stderr) => resolve({ code: error ? Number(error.code ?? -1) : 0, stderr }),
    );
  });
}

function listen(server: Server | ReturnType<typeof createHttp2Server>): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** A port nothing listens on: one the kernel gave out and that was closed again. */
async function closedPort(): Promise<number> {
  const server = createTcpServer();
  const port = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('grpc-health.mjs (task-api)', () => {
  let serving = true;
  const server = createHttp2Server(
    connectNodeAdapter({
      routes: (router) =>
        router.service(
          health.Health,
          createHealthService({ probe: async () => serving, services: ['taskproc.v1.TaskService'] }),
        ),
    }),
  );
  let port = 0;

  beforeAll(async () => {
    port = await listen(server);
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const env = () => ({ TASK_API_HOST: '0.0.0.0', TASK_API_PORT: String(port) });

  it('exits 0 when the server answers SERVING', async () => {
    serving = true;
    expect(await runProbe('grpc-health.mjs', [], env())).toEqual({ code: 0, stderr: '' });
    expect(await runProbe('grpc-health.mjs', ['taskproc.v1.TaskService'], env())).toEqual({ code: 0, stderr: '' });
  });

  it('exits 1 and says why when the server is NOT_SERVING', async () => {
    serving = false;
    const outcome = await runProbe('grpc-health.mjs', [], env());
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toContain('NOT_SERVING');
  });

  it('exits 1 for a service the server does not know', async () => {
    serving = true;
    const outcome = await runProbe('grpc-health.mjs', ['no.such.Service'], env());
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toMatch(/not_found/i);
  });

  it('exits 1 when nothing listens', async () => {
    const outcome = await runProbe('grpc-health.mjs', [], { TASK_API_HOST: '0.0.0.0', TASK_API_PORT: String(await closedPort()) });
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toMatch(/ECONNREFUSED|unavailable/i);
  });
});

describe('holds-connections.mjs (processor)', () => {
  const server = createTcpServer((socket) => accepted.push(socket));
  const accepted: Socket[] = [];
  let client: Socket;
  let port = 0;

  beforeAll(async () => {
    port = await listen(server);
    client = connect(port, '127.0.0.1');
    await new Promise((resolve) => client.once('connect', resolve));
  });
  afterAll(async () => {
    client.destroy();
    accepted.forEach((socket) => socket.destroy());
    await new Promise((resolve) => server.close(resolve));
  });

  it('exits 0 while a connection to every named server is established', async () => {
    const env = { DATABASE_URL: `postgresql://u:p@127.0.0.1:${port}/db`, AMQP_URL: `amqp://u:p@127.0.0.1:${port}` };
    expect(await runProbe('holds-connections.mjs', ['DATABASE_URL', 'AMQP_URL'], env)).toEqual({ code: 0, stderr: '' });
  });

  it('exits 1 naming the server it is not connected to', async () => {
    const missing = await closedPort();
    const env = { DATABASE_URL: `postgresql://u:p@127.0.0.1:${port}/db`, AMQP_URL: `amqp://u:p@rabbitmq:${missing}` };
    const outcome = await runProbe('holds-connections.mjs', ['DATABASE_URL', 'AMQP_URL'], env);
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toContain(`AMQP_URL (rabbitmq:${missing})`);
    expect(outcome.stderr).not.toContain('DATABASE_URL');
  });

  it('exits 1 on a variable that is unset or not a URL', async () => {
    expect((await runProbe('holds-connections.mjs', ['AMQP_URL'], {})).stderr).toContain('AMQP_URL is not set');
    const outcome = await runProbe('holds-connections.mjs', ['AMQP_URL'], { AMQP_URL: 'rabbitmq' });
    expect(outcome).toEqual({ code: 1, stderr: expect.stringContaining('AMQP_URL is not a URL') });
  });
});
