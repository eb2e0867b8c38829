import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { create, fromBinary, createFileRegistry } from '@bufbuild/protobuf';
import { FieldDescriptorProto_Label, FieldDescriptorProto_Type, FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { CreateTaskRequestSchema, TaskService } from '@taskproc/contract';
import { toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { grpcFrame } from '../lib/c-load.js';
import { processSource, reapedChildrenSource, startLedger } from '../lib/cpu-ledger.js';
import { formatLedger } from '../lib/report.js';
import { batchCreateMethod, batchCreateRequest } from '../scenarios/c-load.js';
import { readServicesFrom } from '../lib/settings.js';
import { assertBuilt, serviceArgs } from '../lib/system.js';

// The pieces of the benchmark that decide what it sends and what it counts.

describe('grpcFrame', () => {
  it('prefixes the message with flag 0 and its big-endian length', () => {
    const message = toBinary(CreateTaskRequestSchema, create(CreateTaskRequestSchema, { content: 'x'.repeat(300) }));
    const frame = grpcFrame(message);
    expect(frame[0]).toBe(0);
    expect(frame.readUInt32BE(1)).toBe(message.length);
    expect(fromBinary(CreateTaskRequestSchema, frame.subarray(5)).content).toBe('x'.repeat(300));
  });
});

describe('the bulk scenario', () => {
  // A TaskService that has BatchCreateTasks, as the create-options issue
  // declares it: repeated CreateTaskRequest requests = 1.
  const registry = createFileRegistry(
    create(FileDescriptorProtoSchema, {
      name: 'bench_test/v1/batch.proto',
      package: 'bench_test.v1',
      syntax: 'proto3',
      messageType: [
        { name: 'CreateTaskRequest', field: [{ name: 'content', number: 1, type: FieldDescriptorProto_Type.STRING, label: FieldDescriptorProto_Label.OPTIONAL, jsonName: 'content' }] },
        {
          name: 'BatchCreateTasksRequest',
          field: [{ name: 'requests', number: 1, type: FieldDescriptorProto_Type.MESSAGE, typeName: '.bench_test.v1.CreateTaskRequest', label: FieldDescriptorProto_Label.REPEATED, jsonName: 'requests' }],
        },
        { name: 'BatchCreateTasksResponse' },
      ],
      service: [{ name: 'TaskService', method: [{ name: 'BatchCreateTasks', inputType: '.bench_test.v1.BatchCreateTasksRequest', outputType: '.bench_test.v1.BatchCreateTasksResponse' }] }],
    }),
    () => undefined,
  );
  const service = registry.getService('bench_test.v1.TaskService')!;

  it('lights up only when the service has the RPC', () => {
    expect(batchCreateMethod(service)?.name).toBe('BatchCreateTasks');
    const generated = TaskService.methods.some((m) => m.name === 'BatchCreateTasks');
    expect(batchCreateMethod() !== null).toBe(generated);
  });

  it('builds a request of the batch size from the REST shape', () => {
    const method = batchCreateMethod(service)!;
    const decoded = fromBinary(method.input, batchCreateRequest(method, 3, 'bench')) as unknown as { requests: { content: string }[] };
    expect(decoded.requests.map((r) => r.content)).toEqual(['bench 0', 'bench 1', 'bench 2']);
  });
});

describe('the CPU ledger', () => {
  it('charges a process and an exited child with the CPU they used, per task', async () => {
    const ledger = await startLedger([processSource('bench', process.pid)], [reapedChildrenSource('child')]);
    // Burn 150 ms of CPU time (not of wall time: the machine may be loaded), here and in a child.
    const before = process.cpuUsage();
    for (let used = 0; used < 150_000; ) {
      const { user, system } = process.cpuUsage(before);
      used = user + system;
    }
    await new Promise<void>((resolve, reject) => {
      const burn = 'for (let u = 0; u < 150000; ) { const c = process.cpuUsage(); u = c.user + c.system; }';
      const child = spawn(process.execPath, ['-e', burn], { stdio: 'ignore' });
      child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`child exited with ${code}`))));
    });
    const figures = await ledger.stop(10);
    const bench = figures.entries.find((e) => e.name === 'bench')!;
    const child = figures.entries.find((e) => e.name === 'child')!;
    // 150 ms of CPU over 10 tasks is 15 ms per task; /proc counts in 10 ms ticks.
    expect(bench.cpuMsPerTask).toBeGreaterThanOrEqual(10);
    expect(child.cpuMsPerTask).toBeGreaterThanOrEqual(10);
    expect(figures.machineCpuMsPerTask).toBeGreaterThanOrEqual(bench.cpuMsPerTask);
    const table = formatLedger([{ title: 'run', ledger: figures }]);
    expect(table).toContain('| bench');
    expect(table).toContain('whole machine');
  });
});

describe('how the bench starts the services', () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));

  it('runs the build unless BENCH_FROM=source, and refuses anything else', () => {
    expect(readServicesFrom({})).toBe('build');
    expect(readServicesFrom({ BENCH_FROM: '' })).toBe('build');
    expect(readServicesFrom({ BENCH_FROM: 'source' })).toBe('source');
    expect(() => readServicesFrom({ BENCH_FROM: 'dist' })).toThrow(/BENCH_FROM must be build or source/);
  });

  it('starts the compiled entry without tsx from the build, the TypeScript entry under tsx from the sources', () => {
    expect(serviceArgs('task-api', 'build')).toEqual(['services/task-api/dist/main.js']);
    expect(serviceArgs('processor', 'build')).toEqual(['services/processor/dist/main.js']);
    expect(serviceArgs('gateway', 'build')).toEqual(['gateway/dist/main.js']);
    expect(serviceArgs('gateway', 'source')).toEqual(['--conditions=development', '--import', 'tsx', 'gateway/src/main.ts']);
  });

  it('names the missing entries when the build is not there', () => {
    const empty = mkdtempSync(join(tmpdir(), 'taskproc-bench-unbuilt-'));
    try {
      expect(() => assertBuilt('build', `${empty}/`)).toThrow(/services\/task-api\/dist\/main\.js, services\/processor\/dist\/main\.js, gateway\/dist\/main\.js missing.*make build/);
      expect(() => assertBuilt('source', `${empty}/`)).not.toThrow();
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('has the workspaces a compiled service imports resolve to their dist/, as in the runtime image', () => {
    // A node without --conditions=development, as the build runs: the
    // package.json "default" condition. With it (the sources): src/.
    const resolve = (conditions: string[]) =>
      execFileSync(process.execPath, [...conditions, '--input-type=module', '-e', "for (const p of ['contract', 'core', 'handler']) console.log(import.meta.resolve(`@taskproc/${p}`))"], {
        cwd: join(root, 'services/processor'),
        encoding: 'utf8',
      })
        .trim()
        .split('\n')
        .map((url) => fileURLToPath(url).slice(root.length));
    expect(resolve([])).toEqual(['packages/contract/dist/index.js', 'packages/core/dist/index.js', 'packages/handler/dist/index.js']);
    expect(resolve(['--conditions=development'])).toEqual(['packages/contract/src/index.ts', 'packages/core/src/index.ts', 'packages/handler/src/index.ts']);
  });
});
