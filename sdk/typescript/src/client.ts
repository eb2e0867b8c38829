import { createClient, type CallOptions, type Client, type Transport } from '@connectrpc/connect';
import { TaskService } from '@taskproc/contract';
import { toTaskClientError } from './errors.js';

/** The transports a TaskClient can speak; task-api serves all three on one port. */
export type TransportName = 'grpc' | 'connect' | 'grpc-web';

export const TRANSPORT_NAMES: readonly TransportName[] = Object.freeze(['grpc', 'connect', 'grpc-web']);

/**
 * The generated TaskService client (every RPC of task.proto), except that every failure is a TaskClientError subclass
 * (see errors.ts) instead of a bare ConnectError.
 */
export interface TaskClient extends Client<typeof TaskService> {
  /** Closes the client's HTTP/2 connection, if it has one. Calls after close() fail. */
  close(): void;
}

/** Wraps a Connect transport (any runtime) as a TaskClient. */
export function createTaskClientFromTransport(transport: Transport, close: () => void = () => {}): TaskClient {
  const client = createClient(TaskService, transport);
  // Listed one by one so that a new RPC in task.proto fails to compile here
  // until it is wrapped too.
  return {
    createTask: (request, options?: CallOptions) => client.createTask(request, options).catch(rethrow),
    getTask: (request, options?: CallOptions) => client.getTask(request, options).catch(rethrow),
    cancelTask: (request, options?: CallOptions) => client.cancelTask(request, options).catch(rethrow),
    checkHealth: (request, options?: CallOptions) => client.checkHealth(request, options).catch(rethrow),
    batchCreateTasks: (request, options?: CallOptions) => client.batchCreateTasks(request, options).catch(rethrow),
    listTasks: (request, options?: CallOptions) => client.listTasks(request, options).catch(rethrow),
    listTaskEvents: (request, options?: CallOptions) => client.listTaskEvents(request, options).catch(rethrow),
    retryTask: (request, options?: CallOptions) => client.retryTask(request, options).catch(rethrow),
    getTaskStats: (request, options?: CallOptions) => client.getTaskStats(request, options).catch(rethrow),
    watchTask: (request, options?: CallOptions) => rethrowing(client.watchTask(request, options)),
    watchTasks: (request, options?: CallOptions) => rethrowing(client.watchTasks(request, options)),
    close,
  };
}

function rethrow(error: unknown): never {
  throw toTaskClientError(error);
}

/** A server stream whose failure, at any message, is a TaskClientError. */
async function* rethrowing<T>(stream: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* stream;
  } catch (error) {
    rethrow(error);
  }
}

export function isTransportName(value: string): value is TransportName {
  return (TRANSPORT_NAMES as readonly string[]).includes(value);
}
