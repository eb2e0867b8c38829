import type { Interceptor } from '@connectrpc/connect';
import {
  Http2SessionManager,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from '@connectrpc/connect-node';
import { withBearerToken, type TokenSource } from './bearer-token.js';
import { createTaskClientFromTransport, type TaskClient, type TransportName } from './client.js';

export interface TaskClientOptions {
  /** Where task-api listens, e.g. http://127.0.0.1:50051 (https:// for TLS). */
  baseUrl: string;
  /** Wire protocol (default "connect"). gRPC always uses HTTP/2. */
  transport?: TransportName;
  /** HTTP version for Connect and gRPC-Web (default "1.1"). */
  httpVersion?: '1.1' | '2';
  /** Deadline of every call that sets none itself. */
  defaultTimeoutMs?: number;
  /**
   * Sent as `authorization: Bearer <token>` with every call, streams
   * included, when the task-api has authentication on. A function is called
   * before each call, so it can hand out a refreshed token. Empty: none sent.
   */
  token?: TokenSource;
  interceptors?: Interceptor[];
}

/**
 * A TaskClient for Node.js. For browsers, import createTaskClient from
 * "@taskproc/client/web" instead (Connect and gRPC-Web over fetch).
 */
export function createTaskClient({
  baseUrl,
  transport = 'connect',
  httpVersion = '1.1',
  defaultTimeoutMs,
  token,
  interceptors,
}: TaskClientOptions): TaskClient {
  const common = { baseUrl, defaultTimeoutMs, interceptors: withBearerToken(token, interceptors) };
  if (transport === 'grpc' || httpVersion === '2') {
    // One session per client, so close() can end it; Node would otherwise
    // keep the idle connection (unref'd) until its idle timeout.
    const sessionManager = new Http2SessionManager(baseUrl);
    const options = { ...common, httpVersion: '2' as const, sessionManager };
    const create = { grpc: createGrpcTransport, connect: createConnectTransport, 'grpc-web': createGrpcWebTransport }[transport];
    return createTaskClientFromTransport(create(options), () => sessionManager.abort());
  }
  const options = { ...common, httpVersion: '1.1' as const };
  const create = transport === 'connect' ? createConnectTransport : createGrpcWebTransport;
  return createTaskClientFromTransport(create(options));
}
