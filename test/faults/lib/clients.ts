import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { TaskService } from '@taskproc/contract';

/** How one request ended, in the terms the checker counts. */
export interface Answer {
  /** 'OK', a gRPC code name (e.g. 'UNAVAILABLE'), or 'HTTP 503' for REST. */
  answer: string;
  /** True when the answer is a success. */
  ok: boolean;
  /** True for answers that mean "the system cannot serve now, try later" (UNAVAILABLE, 503, or no answer at all). */
  unavailable: boolean;
  /** True when the server itself answered 5xx / INTERNAL / UNKNOWN: never acceptable. */
  serverError: boolean;
  taskId?: string;
  /** Final status named by a successful answer (lower case). */
  status?: string;
}

const STATUS_NAMES = ['unspecified', 'pending', 'processing', 'completed', 'canceled'];

/** gRPC client of the task-api (HTTP/2), with a deadline on every call. */
export class GrpcTaskClient {
  private readonly client: Client<typeof TaskService>;

  constructor(baseUrl: string, private readonly timeoutMs = 15_000) {
    this.client = createClient(TaskService, createGrpcTransport({ baseUrl, idleConnectionTimeoutMs: 60_000 }));
  }

  async create(content: string): Promise<Answer> {
    return this.call(async (signal) => (await this.client.createTask({ content }, { signal, timeoutMs: this.timeoutMs })).task);
  }

  async cancel(taskId: string): Promise<Answer> {
    return this.call(async (signal) => (await this.client.cancelTask({ taskId }, { signal, timeoutMs: this.timeoutMs })).task);
  }

  async get(taskId: string): Promise<Answer> {
    return this.call(async (signal) => (await this.client.getTask({ taskId }, { signal, timeoutMs: this.timeoutMs })).task);
  }

  private async call(run: (signal: AbortSignal) => Promise<{ id: string; status: number } | undefined>): Promise<Answer> {
    try {
      const task = await run(new AbortController().signal);
      return { answer: 'OK', ok: true, unavailable: false, serverError: false, taskId: task?.id, status: STATUS_NAMES[task?.status ?? 0] };
    } catch (error) {
      return grpcFailure(error);
    }
  }
}

/**
 * Classifies a failed call. A server's own INTERNAL carries the task-api's
 * generic message "internal error"; INTERNAL raised by the client transport
 * (a connection torn down by a killed server) is a missing answer, like
 * UNAVAILABLE, not a server error.
 */
export function grpcFailure(error: unknown): Answer {
  const connectError = ConnectError.from(error);
  const name = Code[connectError.code].replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
  const transportProblem =
    connectError.code === Code.Unavailable ||
    connectError.code === Code.DeadlineExceeded ||
    (connectError.code === Code.Internal && connectError.rawMessage !== 'internal error');
  const serverError = !transportProblem && (connectError.code === Code.Internal || connectError.code === Code.Unknown);
  return {
    answer: transportProblem && connectError.code === Code.Internal ? 'NO_ANSWER' : name,
    ok: false,
    unavailable: transportProblem,
    serverError,
  };
}

/** REST client of the gateway (HTTP/1.1, JSON). */
export class RestTaskClient {
  constructor(readonly baseUrl: string, private readonly timeoutMs = 15_000) {}

  create(content: string): Promise<Answer> {
    return this.send('POST', '/task', JSON.stringify({ content }));
  }

  cancel(taskId: string): Promise<Answer> {
    return this.send('PATCH', `/task/${taskId}/cancel`);
  }

  get(taskId: string): Promise<Answer> {
    return this.send('GET', `/task/${taskId}`);
  }

  private async send(method: string, path: string, body?: string): Promise<Answer> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        body,
        headers: body ? { 'content-type': 'application/json' } : {},
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch {
      return { answer: 'NO_ANSWER', ok: false, unavailable: true, serverError: false };
    }
    const text = await response.text().catch(() => '');
    if (response.ok) {
      let parsed: { id?: string; status?: string } = {};
      try {
        parsed = JSON.parse(text) as typeof parsed;
      } catch {
        // a success without a JSON task is reported by the caller as a missing id
      }
      return { answer: 'OK', ok: true, unavailable: false, serverError: false, taskId: parsed.id, status: parsed.status };
    }
    return {
      answer: `HTTP ${response.status}`,
      ok: false,
      unavailable: response.status === 503,
      serverError: response.status >= 500 && response.status !== 503,
    };
  }
}
