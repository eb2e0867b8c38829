import { execFile } from 'node:child_process';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { create, createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { createClient, createRouterTransport, type ConnectRouter } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { file_taskproc_v1_task, health, reflection } from '@taskproc/contract';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHealthService } from '../src/grpc-health.js';
import { createReflectionService } from '../src/grpc-reflection.js';

type Request = Parameters<typeof create<typeof reflection.ServerReflectionRequestSchema>>[1];

const servedFiles = [file_taskproc_v1_task, health.file_grpc_health_v1_health];

function routes(router: ConnectRouter): void {
  router.service(reflection.ServerReflection, createReflectionService(servedFiles));
  router.service(health.Health, createHealthService({ probe: async () => true, services: ['taskproc.v1.TaskService'] }));
}

/** Sends the requests on one reflection stream and returns the responses in order. */
async function reflect(...requests: Request[]) {
  const client = createClient(reflection.ServerReflection, createRouterTransport(routes));
  async function* send() {
    for (const request of requests) yield create(reflection.ServerReflectionRequestSchema, request);
  }
  const responses = [];
  for await (const response of client.serverReflectionInfo(send())) responses.push(response);
  return responses;
}

function fileNames(response: reflection.ServerReflectionResponse): string[] {
  if (response.messageResponse.case !== 'fileDescriptorResponse') {
    throw new Error(`expected files, got ${response.messageResponse.case}`);
  }
  return response.messageResponse.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);
}

const TASK_FILE_AND_IMPORTS = [
  'taskproc/v1/task.proto',
  'google/api/annotations.proto',
  'google/protobuf/duration.proto',
  'google/protobuf/timestamp.proto',
  'google/api/http.proto',
  'google/protobuf/descriptor.proto',
];

describe('grpc.reflection.v1.ServerReflection', () => {
  it('lists every service served, itself included', async () => {
    const [response] = await reflect({ messageRequest: { case: 'listServices', value: '' } });

    expect(response?.messageResponse.case).toBe('listServicesResponse');
    const names = response?.messageResponse.case === 'listServicesResponse'
      ? response.messageResponse.value.service.map((s) => s.name)
      : [];
    expect(names.sort()).toEqual(['grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'taskproc.v1.TaskService']);
  });

  it('answers a symbol with its file and transitive imports, each once, enough to rebuild the schema', async () => {
    const [response] = await reflect({ messageRequest: { case: 'fileContainingSymbol', value: 'taskproc.v1.TaskService' } });
    const names = fileNames(response!);

    expect(names[0]).toBe('taskproc/v1/task.proto');
    expect([...names].sort()).toEqual([...TASK_FILE_AND_IMPORTS].sort());

    // What a client does with the answer: build a registry and find the service.
    const files = (response!.messageResponse.value as reflection.FileDescriptorResponse).fileDescriptorProto.map((b) =>
      fromBinary(FileDescriptorProtoSchema, b),
    );
    const byName = new Map(files.map((file) => [file.name, file]));
    const registry = createFileRegistry(files[0]!, (name) => byName.get(name));
    expect(registry.getService('taskproc.v1.TaskService')?.methods.map((m) => m.name)).toContain('CreateTask');
  });

  it.each([
    ['a method', 'taskproc.v1.TaskService.CreateTask', 'taskproc/v1/task.proto'],
    ['a message', 'taskproc.v1.Task', 'taskproc/v1/task.proto'],
    ['a field', 'taskproc.v1.Task.status', 'taskproc/v1/task.proto'],
    ['an enum', 'taskproc.v1.TaskStatus', 'taskproc/v1/task.proto'],
    ['a nested enum', 'grpc.health.v1.HealthCheckResponse.ServingStatus', 'grpc/health/v1/health.proto'],
    ['an imported message', '.google.protobuf.Timestamp', 'google/protobuf/timestamp.proto'],
    ['an extension', 'google.api.http', 'google/api/annotations.proto'],
  ])('resolves %s (%s)', async (_kind, symbol, file) => {
    const [response] = await reflect({ messageRequest: { case: 'fileContainingSymbol', value: symbol } });
    expect(fileNames(response!)[0]).toBe(file);
  });

  it('sends on one stream each import only once, but always the file asked for', async () => {
    const [first, second] = await reflect(
      { messageRequest: { case: 'fileByFilename', value: 'taskproc/v1/task.proto' } },
      { messageRequest: { case: 'fileByFilename', value: 'google/api/annotations.proto' } },
    );
    expect(fileNames(first!)).toHaveLength(TASK_FILE_AND_IMPORTS.length);
    expect(fileNames(second!)).toEqual(['google/api/annotations.proto']);
  });

  it('finds extensions by their extended type and number', async () => {
    const [byExtension, numbers] = await reflect(
      {
        messageRequest: {
          case: 'fileContainingExtension',
          value: { containingType: 'google.protobuf.MethodOptions', extensionNumber: 72295728 },
        },
      },
      { messageRequest: { case: 'allExtensionNumbersOfType', value: 'google.protobuf.MethodOptions' } },
    );
    expect(fileNames(byExtension!)[0]).toBe('google/api/annotations.proto');
    expect(numbers?.messageResponse).toMatchObject({
      case: 'allExtensionNumbersResponse',
      value: { baseTypeName: 'google.protobuf.MethodOptions', extensionNumber: [72295728] },
    });
  });

  it('answers unknown names with an error_response NOT_FOUND and keeps the stream going', async () => {
    const responses = await reflect(
      { messageRequest: { case: 'fileContainingSymbol', value: 'taskproc.v1.NoSuchThing' } },
      { messageRequest: { case: 'fileByFilename', value: 'no/such/file.proto' } },
      {
        messageRequest: {
          case: 'fileContainingExtension',
          value: { containingType: 'google.protobuf.MethodOptions', extensionNumber: 1 },
        },
      },
      { messageRequest: { case: 'allExtensionNumbersOfType', value: 'no.such.Type' } },
      { host: 'api.example', messageRequest: { case: 'listServices', value: '' } },
    );

    expect(responses.slice(0, 4).map((r) => r.messageResponse)).toEqual(
      Array(4).fill(expect.objectContaining({ case: 'errorResponse', value: expect.objectContaining({ errorCode: 5 }) })),
    );
    expect(responses[0]?.originalRequest?.messageRequest.value).toBe('taskproc.v1.NoSuchThing');
    expect(responses[4]).toMatchObject({ validHost: 'api.example', messageResponse: { case: 'listServicesResponse' } });
  });
});

describe('stock tools over a real HTTP/2 server', () => {
  const buf = fileURLToPath(new URL('../../../node_modules/.bin/buf', import.meta.url));
  let server: http2.Http2Server;
  let baseUrl: string;

  beforeAll(async () => {
    server = http2.createServer(connectNodeAdapter({ routes }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const bufCurl = async (...args: string[]) =>
    (await promisify(execFile)(buf, ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', ...args])).stdout;

  it('buf curl lists our methods through server reflection', async () => {
    const methods = (await bufCurl('--list-methods', baseUrl)).trim().split('\n');

    expect(methods).toEqual(
      expect.arrayContaining([
        'taskproc.v1.TaskService/CreateTask',
        'taskproc.v1.TaskService/GetTask',
        'grpc.health.v1.Health/Check',
        'grpc.health.v1.Health/Watch',
        'grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
      ]),
    );
  });

  it('buf curl checks health with the schema it learned by reflection', async () => {
    const answer = await bufCurl('-d', '{"service":"taskproc.v1.TaskService"}', `${baseUrl}/grpc.health.v1.Health/Check`);
    expect(JSON.parse(answer)).toEqual({ status: 'SERVING' });
  });
});
