import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { TaskService } from '@taskproc/contract';
import { startTaskApiHarness, type TaskApiHarness } from '../../../test/support/task-api-harness.js';
import { waitFor } from '../../../test/support/wait-for.js';

// A connection that opens and never finishes its first request is closed by
// task-api after TASK_API_HANDSHAKE_TIMEOUT_MS, whatever step it stalls at.

let harness: TaskApiHarness;

beforeAll(async () => {
  harness = await startTaskApiHarness('connection_bounds', (env) => ({ ...env, TASK_API_HANDSHAKE_TIMEOUT_MS: '300' }));
});

afterAll(async () => {
  await harness?.close();
});

/** Opens a raw connection, sends `bytes`, and reports whether the server has closed it. */
async function openAndStall(bytes: string | Buffer): Promise<{ closed: () => boolean; socket: Socket }> {
  const socket = connect(harness.api.port, '127.0.0.1');
  let closed = false;
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  socket.on('data', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  if (bytes.length > 0) socket.write(bytes);
  return { closed: () => closed, socket };
}

// An HTTP/2 SETTINGS frame with no settings: length 0, type 4, flags 0, stream 0.
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
const PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';

describe('connections that never finish their first request', () => {
  it.each([
    ['sends nothing', ''],
    ['sends part of the HTTP/2 preface', 'PRI * HTTP/2.0\r\n'],
    ['sends the HTTP/2 preface and settings but never a request', Buffer.concat([Buffer.from(PREFACE), EMPTY_SETTINGS])],
    ['sends part of an HTTP/1.1 request head', 'POST /taskproc.v1.TaskService/CreateTask HTTP/1.1\r\nHost: x\r\n'],
  ])('is closed when it %s', async (_name, bytes) => {
    const connection = await openAndStall(bytes);
    try {
      await waitFor(connection.closed, Boolean, { timeoutMs: 10_000, description: 'the server to close the connection' });
    } finally {
      connection.socket.destroy();
    }
  });

  it('still serves a client that completes its request', async () => {
    const client = createClient(TaskService, createGrpcTransport({ baseUrl: harness.api.url }));
    expect(await client.checkHealth({})).toMatchObject({ status: 'ok' });
  });
});
