// Browser entry: "@taskproc/client/web". No Node.js modules are imported
// from here, so bundlers can ship it to browsers.
import type { Interceptor } from '@connectrpc/connect';
import { createConnectTransport, createGrpcWebTransport } from '@connectrpc/connect-web';
import { withBearerToken, type TokenSource } from './bearer-token.js';
import { createTaskClientFromTransport, type TaskClient } from './client.js';

export * from './shared.js';

export interface WebTaskClientOptions {
  /** Where task-api (or a proxy in front of it) listens. */
  baseUrl: string;
  /** Browsers cannot speak plain gRPC; default "connect". */
  transport?: 'connect' | 'grpc-web';
  defaultTimeoutMs?: number;
  /** Sent as `authorization: Bearer <token>` with every call (see the Node.js entry's option of the same name). */
  token?: TokenSource;
  interceptors?: Interceptor[];
}

/** A TaskClient over fetch (browsers, Deno, Node's fetch). */
export function createTaskClient({ baseUrl, transport = 'connect', defaultTimeoutMs, token, interceptors }: WebTaskClientOptions): TaskClient {
  const create = transport === 'grpc-web' ? createGrpcWebTransport : createConnectTransport;
  return createTaskClientFromTransport(create({ baseUrl, defaultTimeoutMs, interceptors: withBearerToken(token, interceptors) }));
}
