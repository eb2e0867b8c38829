import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCreateOptionsReport } from './sdk/create-options-report.js';
import { expectRetryReport, failedTask } from './sdk/retry-report.js';
import { expectRoundtripReport } from './sdk/roundtrip-report.js';
import { startAuthTaskApi, type AuthTaskApi } from './sdk/auth-harness.js';
import { startTaskApiHarness, type TaskApiHarness } from './support/task-api-harness.js';
import { commandSucceeds, requireToolchain, run } from './sdk/toolchain.js';

// Proof of the generated Python SDK (sdk/python): a Python program using its
// messages and gRPC stubs, run by Debian's Python with Debian's grpcio,
// creates, reads and cancels a task on a real task-api over plain gRPC.

// Debian's python3-grpcio and python3-protobuf are installed for this
// interpreter, not for whichever python3 comes first on PATH.
const PYTHON = '/usr/bin/python3';

let harness: TaskApiHarness;
let withAuth: AuthTaskApi;

beforeAll(async () => {
  await requireToolchain(`${PYTHON} with the grpc and google.protobuf modules (python3-grpcio, python3-protobuf)`, () =>
    commandSucceeds(PYTHON, ['-c', 'import grpc, google.protobuf']),
  );
  [harness, withAuth] = await Promise.all([startTaskApiHarness('sdk_python'), startAuthTaskApi('sdk_python_auth')]);
});

afterAll(async () => {
  await Promise.all([harness?.close(), withAuth?.close()]);
});

// No __pycache__ in the source tree (`make check-sdk` compares it with git).
const PYTHON_ENV = { PYTHONPATH: 'sdk/python/src', PYTHONDONTWRITEBYTECODE: '1' };

describe('the generated Python SDK', () => {
  it('creates, reads, lists, watches and cancels a task over gRPC, gets the contract error codes, and uses the create options and retry', async () => {
    const content = `from python ${Date.now()}`;
    const target = `127.0.0.1:${harness.api.port}`;
    const failedId = await failedTask(harness.database, 'failed, retried from python');
    const result = await run(PYTHON, ['sdk/python/examples/roundtrip.py', target, content, failedId], { env: PYTHON_ENV });
    expect(result.code, `roundtrip.py failed:\n${result.stderr}`).toBe(0);
    await expectRetryReport(result.stdout, failedId, 'FAILED_PRECONDITION', harness.database);

    await expectRoundtripReport(result.stdout, content, { failedPrecondition: 'FAILED_PRECONDITION', notFound: 'NOT_FOUND', invalidArgument: 'INVALID_ARGUMENT' }, harness.database);
    await expectCreateOptionsReport(result.stdout, content, { alreadyExists: 'ALREADY_EXISTS', invalidArgument: 'INVALID_ARGUMENT' }, harness.database);
  });
});

describe('the generated Python SDK, against a task-api with authentication on', () => {
  it('is refused UNAUTHENTICATED without TASKPROC_TOKEN, and does the whole round trip with it', async () => {
    const target = `127.0.0.1:${withAuth.harness.api.port}`;
    const content = `from python with a token ${Date.now()}`;
    const refused = await run(PYTHON, ['sdk/python/examples/roundtrip.py', target, content], { env: { ...PYTHON_ENV, TASKPROC_TOKEN: '' } });
    expect({ code: refused.code, stdout: refused.stdout }).toEqual({ code: 1, stdout: '' });
    expect(refused.stderr).toMatch(/^roundtrip\.py: UNAUTHENTICATED: missing bearer token/);

    const token = await withAuth.keys.token('python-tenant');
    const result = await run(PYTHON, ['sdk/python/examples/roundtrip.py', target, content], { env: { ...PYTHON_ENV, TASKPROC_TOKEN: token } });
    expect(result.code, `roundtrip.py failed:\n${result.stderr}`).toBe(0);
    const { database } = withAuth.harness;
    await expectRoundtripReport(result.stdout, content, { failedPrecondition: 'FAILED_PRECONDITION', notFound: 'NOT_FOUND', invalidArgument: 'INVALID_ARGUMENT' }, database);
    await expectCreateOptionsReport(result.stdout, content, { alreadyExists: 'ALREADY_EXISTS', invalidArgument: 'INVALID_ARGUMENT' }, database);
  });
});
