import { createContext } from 'preact';
import { useContext, useEffect, useMemo, useState } from 'preact/hooks';
import { QueryObserver, type QueryObserverOptions, type QueryObserverResult, type QueryKey } from '@tanstack/query-core';
import type { Api } from './api.js';
import type { TokenStore } from './token.js';

// TanStack Query's core with a Preact binding of a dozen lines (the React
// binding and @connectrpc/connect-query need React itself; see
// docs/dashboard.md). Query options come from @connectrpc/connect-query-core,
// so cache keys are the ConnectRPC-native ones.

export const ApiContext = createContext<Api | null>(null);

export function useApi(): Api {
  const api = useContext(ApiContext);
  if (!api) throw new Error('useApi outside <ApiContext.Provider>');
  return api;
}

export function useQuery<T, K extends QueryKey>(options: QueryObserverOptions<T, Error, T, T, K>): QueryObserverResult<T, Error> {
  const { queries } = useApi();
  const observer = useMemo(() => new QueryObserver<T, Error, T, T, K>(queries, options), [queries]);
  const [result, setResult] = useState(() => observer.getOptimisticResult(queries.defaultQueryOptions(options)));
  const key = JSON.stringify(options.queryKey, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  useEffect(() => {
    observer.setOptions(options);
    setResult(observer.getOptimisticResult(queries.defaultQueryOptions(options)));
  }, [observer, key, options.refetchInterval, options.enabled]);
  useEffect(() => observer.subscribe(setResult), [observer]);
  return result;
}

/** How many tokens the user has saved: a dependency for streams that should start over with a new token. */
export function useTokenSaves(tokens: TokenStore): number {
  const [saves, setSaves] = useState(tokens.saves);
  useEffect(() => tokens.subscribe(() => setSaves(tokens.saves)), [tokens]);
  return saves;
}
