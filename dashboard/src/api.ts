import { ConnectError, Code, createClient, type Client, type Transport } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-web';
import { QueryClient } from '@tanstack/query-core';
import { TaskService } from '@taskproc/contract';
import { TokenStore, bearerTokenInterceptor } from './token.js';

// The dashboard speaks the Connect protocol (binary) to the origin it was
// served from: the embedded gateway or Envoy passes /taskproc.v1.TaskService/*
// through to task-api. It uses only the public API, so anything it does any
// client can do.

export type TaskClient = Client<typeof TaskService>;

export interface Api {
  transport: Transport;
  client: TaskClient;
  queries: QueryClient;
  /** The API token sent with every call (deployments with authentication on). */
  tokens: TokenStore;
}

export function createApi(baseUrl: string = window.location.origin, tokens: TokenStore = new TokenStore()): Api {
  const transport = createConnectTransport({ baseUrl, useBinaryFormat: true, interceptors: [bearerTokenInterceptor(tokens)] });
  return {
    transport,
    tokens,
    client: createClient(TaskService, transport),
    queries: new QueryClient({
      defaultOptions: {
        queries: {
          // Errors are shown as they come; a retry storm would hide them.
          retry: 1,
          refetchOnWindowFocus: true,
          staleTime: 1_000,
        },
      },
    }),
  };
}

/** The API's own message for a failed call ("task ... is completed"), with its code for context. */
export function describeError(error: unknown): string {
  if (error instanceof ConnectError) {
    if (error.code === Code.Unauthenticated) return `Not signed in: ${error.rawMessage || 'unauthenticated'} (set an API token at the top of the page)`;
    if (error.code === Code.ResourceExhausted) return `Too many requests: ${error.rawMessage || 'resource exhausted'}${retryAfter(error)}`;
    if (error.code === Code.Unimplemented) return `The API does not offer this yet (${error.rawMessage || 'unimplemented'}).`;
    if (error.code === Code.Unavailable && /fetch|network/i.test(error.rawMessage)) return 'The API cannot be reached.';
    return error.rawMessage || Code[error.code];
  }
  return error instanceof Error ? error.message : String(error);
}

function retryAfter(error: ConnectError): string {
  const seconds = error.metadata.get('retry-after');
  return seconds && /^\d+$/.test(seconds) ? ` (try again in ${seconds} s)` : '';
}
