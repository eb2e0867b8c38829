import { describe, expect, it } from 'vitest';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { TaskService } from '@taskproc/contract';
import { startTaskApiHarness } from '../../../test/support/task-api-harness.js';

// Shutdown stops taking work: an HTTP/2 client that stays connected (as a
// gateway does) is sent GOAWAY at once, instead of being served until the
// grace period runs out and then cut off mid-request.

describe('task-api shutdown', () => {
  it('tells connected HTTP/2 clients to go away and does not wait out the grace period', async () => {
    const graceMs = 8_000;
    const harness = await startTaskApiHarness('shutdown', (env) => ({ ...env, TASK_API_SHUTDOWN_GRACE_MS: String(graceMs) }));
    try {
      const client = createClient(TaskService, createGrpcTransport({ baseUrl: harness.api.url }));
      await client.checkHealth({});

      const started = Date.now();
      await harness.api.close();
      expect(Date.now() - started).toBeLessThan(graceMs / 2);

      const error = await client.checkHealth({}).catch((e: unknown) => ConnectError.from(e));
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).code).toBe(Code.Unavailable);
    } finally {
      await harness.close();
    }
  });
});
