import { Code, ConnectError, createClient, type Client, type Interceptor } from '@connectrpc/connect';
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
  /**
   * True when the request ran into its deadline instead of being answered:
   * DEADLINE_EXCEEDED, the gateway's 504, or no answer before the client
   * gave up. An outage must be answered UNAVAILABLE / 503 well before that.
   */
  deadlineHit?: boolean;
  taskId?: string;
  /** Final status named by a successful answer (lower case). */
  status?: string;
}

const STATUS_NAMES = ['unspecified', 'pending', 'processing', 'completed', 'canceled', 'failed'];

/** Every request of the suite's clients has this deadline (sent as grpc-timeout over gRPC), unless a scenario sets another. */
export const REQUEST_DEADLINE_MS = 15_000;
/** An answer later than the deadline by more than this counts as past it even if the transport let it through. */
const DEADLINE_SLACK_MS = 1_000;

/** gRPC client of the task-api (HTTP/2), with a deadline on every call, and a bearer token when given one. */
export class GrpcTaskClient {
  private readonly client: Client<typeof TaskService>;

  constructor(baseUrl: string, private readonly timeoutMs = REQUEST_DEADLINE_MS, token?: string) {
    const bearer: Interceptor = (next) => (request) => {
      request.header.set('authorization', `Bearer ${token}`);
      return next(request);
    };
    const interceptors = token ? [bearer] : [];
    this.client = createClient(TaskService, createGrpcTransport({ baseUrl, idleConnectionTimeoutMs: 60_000, interceptors }));
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
    const started = Date.now();
    const late = () => Date.now() - started > this.timeoutMs + DEADLINE_SLACK_MS;
    try {
      const task = await run(new AbortController().signal);
      return { answer: 'OK', ok: true, unavailable: false, serverError: false, deadlineHit: late(), taskId: task?.id, status: STATUS_NAMES[task?.status ?? 0] };
    } catch (error) {
      const failure = grpcFailure(error);
      return { ...failure, deadlineHit: failure.deadlineHit || late() };
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
    deadlineHit: connectError.code === Code.DeadlineExceeded,
  };
}

/** REST client of the gateway (HTTP/1.1, JSON), with a bearer token when given one. */
export class RestTaskClient {
  // A little longer than the gateway's own 15 s upstream timeout, so that
  // the gateway's 504 is seen rather than the client giving up first.
  constructor(
    readonly baseUrl: string,
    private readonly timeoutMs = REQUEST_DEADLINE_MS + 2_000,
    private readonly token?: string,
  ) {}

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
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        body,
        headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) },
        signal,
      });
    } catch {
      return { answer: 'NO_ANSWER', ok: false, unavailable: true, serverError: false, deadlineHit: signal.aborted };
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
      // The gateway's 504 is its upstream timeout: a deadline hit, not a server error.
      serverError: response.status >= 500 && response.status !== 503 && response.status !== 504,
      deadlineHit: response.status === 504,
    };
  }
}
