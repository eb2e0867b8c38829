import { describe, expect, it } from 'vitest';
import { Code, ConnectError, createClient, createRouterTransport } from '@connectrpc/connect';
import { TaskService } from '@taskproc/contract';
import { createLogger, type Task } from '@taskproc/core';
import { requestInterceptor } from '../src/interceptors.js';
import { requestDeadlineInterceptor } from '../src/request-deadline.js';
import { createTaskService } from '../src/task-service.js';

// A request is answered by the earlier of its own deadline and the server's
// bound, whatever its handler still waits on; the handler's signal tells it
// to drop work it has not started.

/** A TaskService whose creates never finish, recording the signal each one got. */
function hangingService(serverBoundMs: number) {
  const signals: AbortSignal[] = [];
  const createTask = (_content: string, signal?: AbortSignal) => {
    signals.push(signal!);
    return new Promise<Task>(() => undefined);
  };
  const service = createTaskService({
    store: {} as never,
    createTask,
    onTaskCommitted: () => undefined,
    probeDatabase: async () => true,
  });
  const transport = createRouterTransport(({ service: register }) => register(TaskService, service), {
    router: { interceptors: [requestInterceptor(createLogger('test', 'silent')), requestDeadlineInterceptor(serverBoundMs)] },
  });
  return { client: createClient(TaskService, transport), signals };
}

async function codeOf(call: Promise<unknown>): Promise<Code | 'OK'> {
  try {
    await call;
    return 'OK';
  } catch (error) {
    return ConnectError.from(error).code;
  }
}

describe('request deadline', () => {
  it("answers UNAVAILABLE at the server's bound and aborts the handler's signal", async () => {
    const { client, signals } = hangingService(200);
    const error = await client.createTask({ content: 'x' }).catch((e: unknown) => ConnectError.from(e));
    expect((error as ConnectError).code).toBe(Code.Unavailable);
    expect((error as ConnectError).rawMessage).toMatch(/could not be completed within 200 ms/);
    expect(signals[0]!.aborted).toBe(true);
  });

  it("answers DEADLINE_EXCEEDED when the client's own deadline comes first", async () => {
    const { client, signals } = hangingService(60_000);
    expect(await codeOf(client.createTask({ content: 'x' }, { timeoutMs: 200 }))).toBe(Code.DeadlineExceeded);
    expect(signals[0]!.aborted).toBe(true);
  });
});
