import { createClient, type CallOptions, type Client, type Transport } from '@connectrpc/connect';
import { TaskService } from '@taskproc/contract';
import { toTaskClientError } from './errors.js';

/** The transports a TaskClient can speak; task-api serves all three on one port. */
export type TransportName = 'grpc' | 'connect' | 'grpc-web';

export const TRANSPORT_NAMES: readonly TransportName[] = Object.freeze(['grpc', 'connect', 'grpc-web']);

/**
 * The generated TaskService client (createTask, getTask, cancelTask,
 * checkHealth), except that every failure is a TaskClientError subclass
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
    close,
  };
}

function rethrow(error: unknown): never {
  throw toTaskClientError(error);
}

export function isTransportName(value: string): value is TransportName {
  return (TRANSPORT_NAMES as readonly string[]).includes(value);
}
