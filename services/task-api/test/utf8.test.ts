import { connect as connectHttp2 } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTaskApiHarness, type TaskApiHarness } from '../../../test/support/task-api-harness.js';

// Invalid UTF-8 in a request is the client's mistake: INVALID_ARGUMENT, and
// nothing stored — in Connect JSON, Connect binary and gRPC alike (the REST
// gateways already refuse it). Valid multi-byte text is kept exactly.

let harness: TaskApiHarness;
const CREATE = '/taskproc.v1.TaskService/CreateTask';

beforeAll(async () => {
  harness = await startTaskApiHarness('utf8');
});

afterAll(async () => {
  await harness?.close();
});

const INVALID = Buffer.from([0x61, 0xff, 0xfe, 0x62]); // "a", two bytes no UTF-8 text has, "b"
const VALID = 'héllo ✓ 🎉';

function jsonBody(content: Buffer): Buffer {
  return Buffer.concat([Buffer.from('{"content":"'), content, Buffer.from('"}')]);
}

/** CreateTaskRequest in protobuf binary: field 1 (content), length-delimited. */
function protoBody(content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x0a, content.length]), content]);
}

async function connectCall(contentType: string, body: Buffer) {
  const response = await fetch(`${harness.api.url}${CREATE}`, { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: response.status, body: response.headers.get('content-type')?.includes('json') ? await response.json() : await response.arrayBuffer() };
}

/** One gRPC call over HTTP/2; resolves to its grpc-status and grpc-message. */
function grpcCall(message: Buffer): Promise<{ status: string | undefined; message: string | undefined }> {
  return new Promise((resolve, reject) => {
    const session = connectHttp2(harness.api.url);
    session.on('error', reject);
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    message.copy(frame, 5);
    const stream = session.request({ ':method': 'POST', ':path': CREATE, 'content-type': 'application/grpc', te: 'trailers' });
    let headers: Record<string, unknown> = {};
    stream.on('response', (h) => (headers = h));
    stream.on('trailers', (t) => (headers = { ...headers, ...t }));
    stream.on('data', () => undefined);
    stream.on('end', () => {
      session.close();
      const message = headers['grpc-message'] as string | undefined;
      // grpc-message is percent-encoded on the wire.
      resolve({ status: headers['grpc-status'] as string | undefined, message: message === undefined ? undefined : decodeURIComponent(message) });
    });
    stream.on('error', reject);
    stream.end(frame);
  });
}

async function taskCount(): Promise<number> {
  return (await harness.database.query<{ n: number }>('select count(*)::int as n from task'))[0]!.n;
}

describe('invalid UTF-8 in a request', () => {
  it('is refused in a Connect JSON body', async () => {
    const { status, body } = await connectCall('application/json', jsonBody(INVALID));
    expect(status).toBe(400);
    expect(body).toMatchObject({ code: 'invalid_argument', message: 'request body is not valid UTF-8' });
  });

  it('is refused in a Connect binary body, naming the field', async () => {
    const { status, body } = await connectCall('application/proto', protoBody(INVALID));
    expect(status).toBe(400);
    expect(body).toMatchObject({ code: 'invalid_argument', message: 'content must be valid UTF-8' });
  });

  it('is refused in a gRPC message, naming the field', async () => {
    // 3: INVALID_ARGUMENT
    expect(await grpcCall(protoBody(INVALID))).toEqual({ status: '3', message: 'content must be valid UTF-8' });
  });

  it('stores nothing, and keeps valid multi-byte text exactly', async () => {
    expect(await taskCount()).toBe(0);
    const json = await connectCall('application/json', jsonBody(Buffer.from(VALID)));
    expect(json.status).toBe(200);
    expect(json.body).toMatchObject({ task: { content: VALID } });
    expect((await grpcCall(protoBody(Buffer.from(VALID)))).status).toBe('0');
    const rows = await harness.database.query<{ content: string }>('select content from task');
    expect(rows.map((r) => r.content)).toEqual([VALID, VALID]);
  });
});
