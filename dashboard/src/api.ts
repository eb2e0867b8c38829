import { ConnectError, Code, createClient, type Client, type Interceptor, type Transport } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-web';
import { QueryClient } from '@tanstack/query-core';
import { TaskService } from '@taskproc/contract';

// The dashboard speaks the Connect protocol (binary) to the origin it was
// served from: the embedded gateway or Envoy passes /taskproc.v1.TaskService/*
// through to task-api. It uses only the public API, so anything it does any
// client can do.

export type TaskClient = Client<typeof TaskService>;

export interface Api {
  transport: Transport;
  client: TaskClient;
  queries: QueryClient;
}

/**
 * Where an API token (a JWT, for a deployment with authentication on) is
 * kept: this tab's session storage, so it is gone when the tab closes and is
 * never sent anywhere but this origin's API.
 */
export const tokenStore = {
  get: (): string => sessionStorage.getItem('taskproc.token') ?? '',
  set: (token: string): void => (token ? sessionStorage.setItem('taskproc.token', token) : sessionStorage.removeItem('taskproc.token')),
};

const bearerToken: Interceptor = (next) => (request) => {
  const token = tokenStore.get();
  if (token) request.header.set('authorization', `Bearer ${token}`);
  return next(request);
};

export function createApi(baseUrl: string = window.location.origin): Api {
  const transport = createConnectTransport({ baseUrl, useBinaryFormat: true, interceptors: [bearerToken] });
  return {
    transport,
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
    if (error.code === Code.Unauthenticated) return `${error.rawMessage || 'unauthenticated'} (set an API token at the top of the page)`;
    if (error.code === Code.Unimplemented) return `The API does not offer this yet (${error.rawMessage || 'unimplemented'}).`;
    if (error.code === Code.Unavailable && /fetch|network/i.test(error.rawMessage)) return 'The API cannot be reached.';
    return error.rawMessage || Code[error.code];
  }
  return error instanceof Error ? error.message : String(error);
}
