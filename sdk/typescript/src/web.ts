// Browser entry: "@taskproc/client/web". No Node.js modules are imported
// from here, so bundlers can ship it to browsers.
import type { Interceptor } from '@connectrpc/connect';
import { createConnectTransport, createGrpcWebTransport } from '@connectrpc/connect-web';
import { createTaskClientFromTransport, type TaskClient } from './client.js';

export * from './shared.js';

export interface WebTaskClientOptions {
  /** Where task-api (or a proxy in front of it) listens. */
  baseUrl: string;
  /** Browsers cannot speak plain gRPC; default "connect". */
  transport?: 'connect' | 'grpc-web';
  defaultTimeoutMs?: number;
  interceptors?: Interceptor[];
}

/** A TaskClient over fetch (browsers, Deno, Node's fetch). */
export function createTaskClient({ baseUrl, transport = 'connect', defaultTimeoutMs, interceptors }: WebTaskClientOptions): TaskClient {
  const create = transport === 'grpc-web' ? createGrpcWebTransport : createConnectTransport;
  return createTaskClientFromTransport(create({ baseUrl, defaultTimeoutMs, interceptors }));
}
