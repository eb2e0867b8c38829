import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectRetryReport, failedTask } from './sdk/retry-report.js';
import { expectRoundtripReport } from './sdk/roundtrip-report.js';
import { startTaskApiHarness, type TaskApiHarness } from './support/task-api-harness.js';
import { commandSucceeds, requireToolchain, run } from './sdk/toolchain.js';

// Proof of the generated Python SDK (sdk/python): a Python program using its
// messages and gRPC stubs, run by Debian's Python with Debian's grpcio,
// creates, reads and cancels a task on a real task-api over plain gRPC.

// Debian's python3-grpcio and python3-protobuf are installed for this
// interpreter, not for whichever python3 comes first on PATH.
const PYTHON = '/usr/bin/python3';

let harness: TaskApiHarness;

beforeAll(async () => {
  await requireToolchain(`${PYTHON} with the grpc and google.protobuf modules (python3-grpcio, python3-protobuf)`, () =>
    commandSucceeds(PYTHON, ['-c', 'import grpc, google.protobuf']),
  );
  harness = await startTaskApiHarness('sdk_python');
});

afterAll(async () => {
  await harness?.close();
});

describe('the generated Python SDK', () => {
  it('creates, reads and cancels a task over gRPC, and gets the contract error codes', async () => {
    const content = `from python ${Date.now()}`;
    const target = `127.0.0.1:${harness.api.port}`;
    const failedId = await failedTask(harness.database, 'failed, retried from python');
    const result = await run(PYTHON, ['sdk/python/examples/roundtrip.py', target, content, failedId], {
      // No __pycache__ in the source tree (`make check-sdk` compares it with git).
      env: { PYTHONPATH: 'sdk/python/src', PYTHONDONTWRITEBYTECODE: '1' },
    });
    expect(result.code, `roundtrip.py failed:\n${result.stderr}`).toBe(0);
    await expectRetryReport(result.stdout, failedId, 'FAILED_PRECONDITION', harness.database);

    await expectRoundtripReport(result.stdout, content, { failedPrecondition: 'FAILED_PRECONDITION', notFound: 'NOT_FOUND', invalidArgument: 'INVALID_ARGUMENT' }, harness.database);
  });
});
