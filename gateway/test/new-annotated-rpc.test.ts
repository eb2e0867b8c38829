import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createFileRegistry, fromBinary, type FileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { createLogger } from '@taskproc/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { annotatedServices, envoyIncompatibilities, readRestRoutes } from '../src/http-rules.js';
import { startGateway, type RunningGateway } from '../src/index.js';
import { startStubUpstream, type StubUpstream } from './support/stub-upstream.js';

// A service the gateway has never heard of, compiled from a test-only proto:
// once annotated with google.api.http, its methods are REST routes of the
// embedded gateway, with nothing written for them but the proto. (Envoy does
// the same from the descriptor set; its service list names the services.)

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const require = createRequire(import.meta.url);

let registry: FileRegistry;
let upstream: StubUpstream;
let gateway: RunningGateway;
const calls: unknown[] = [];

async function compileProbeProto(): Promise<FileRegistry> {
  const work = await mkdtemp(join(tmpdir(), 'probe-proto-'));
  try {
    const out = join(work, 'probe.binpb');
    await promisify(execFile)(process.execPath, [
      require.resolve('protoc/protoc.cjs'),
      `-I${join(ROOT, 'gateway/test/proto')}`,
      `-I${join(ROOT, 'third_party/proto')}`,
      `-I${join(require.resolve('protoc/package.json'), '..', 'include')}`,
      '--include_imports',
      `--descriptor_set_out=${out}`,
      'gatewaytest/v1/probe.proto',
    ]);
    return createFileRegistry(fromBinary(FileDescriptorSetSchema, await readFile(out)));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  registry = await compileProbeProto();
  const service = registry.getService('gatewaytest.v1.ProbeService')!;
  // A descriptor loaded at run time has no generated types for its methods.
  const impl = {
    echo(request: { name: string; times: number; loud: boolean }) {
      calls.push(request);
      const word = request.loud ? request.name.toUpperCase() : request.name;
      const parts = Array.from({ length: request.times || 1 }, () => word);
      return { echoedText: parts.join(' '), bigCount: BigInt(parts.length), parts };
    },
    shout(request: { room: string; note?: { text: string } }) {
      calls.push(request);
      return { echoedText: `${request.room}: ${request.note?.text ?? ''}!` };
    },
  };
  upstream = await startStubUpstream((router) => router.service(service, impl as never));
  gateway = await startGateway(
    { host: '127.0.0.1', port: 0, upstreamUrl: upstream.url, logLevel: 'silent' },
    { logger: createLogger('gateway', 'silent'), files: [registry.getFile('gatewaytest/v1/probe.proto')!] },
  );
}, 30_000);

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

describe('a new annotated RPC', () => {
  it('is read from the descriptors, and Envoy would accept its rules too', () => {
    const routes = readRestRoutes(annotatedServices([registry.getFile('gatewaytest/v1/probe.proto')!]));
    expect(routes.map((route) => `${route.httpMethod} ${route.template.source}`)).toEqual([
      'GET /probe/v1/echo/{name}',
      'POST /probe/v1/{room=rooms/*}:shout',
      'PUT /probe/v1/{room=rooms/*}/notes',
    ]);
    expect(routes.flatMap(envoyIncompatibilities)).toEqual([]);
  });

  it('is reachable over REST: path variable and query parameters bound, snake_case JSON with every field', async () => {
    const response = await fetch(`${gateway.url}/probe/v1/echo/hey?times=2&loud=true`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('{"echoed_text":"HEY HEY","big_count":"2","parts":["HEY","HEY"],"empty_flag":false}');
    expect(calls.at(-1)).toMatchObject({ name: 'hey', times: 2, loud: true });
  });

  it('binds a multi-segment variable, a custom verb and a body field', async () => {
    const response = await fetch(`${gateway.url}/probe/v1/rooms/lobby:shout`, { method: 'POST', body: '{"text":"hello"}' });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ echoed_text: 'rooms/lobby: hello!' });
  });

  it('serves additional_bindings', async () => {
    const response = await fetch(`${gateway.url}/probe/v1/rooms/lobby/notes`, { method: 'PUT', body: '{"text":"hi"}' });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ echoed_text: 'rooms/lobby: hi!' });
  });

  it('gets the same REST error shape as every route', async () => {
    const response = await fetch(`${gateway.url}/probe/v1/echo/hey?times=lots`);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: 3, details: [] });
  });
});
