import type { Interceptor } from '@connectrpc/connect';
import { ResourceExhaustedError } from '@taskproc/core';
import { Counter, type Registry } from 'prom-client';
import { isOpenProcedure } from '../auth/open-procedures.js';
import { tenantKey } from '../auth/tenant.js';
import type { LimitsConfig } from '../config.js';
import { TenantBudget } from './tenant-budget.js';
import { TenantStreamCap } from './tenant-stream-cap.js';

/**
 * What a client that holds its tenant's every watch stream is told to wait:
 * a slot frees only when one of its own streams ends, which no refill time
 * predicts, so a few seconds keep reconnect loops from spinning.
 */
export const WATCH_CAP_RETRY_AFTER_S = 5;

export interface TenantLimitsOptions {
  /** Milliseconds on a monotonic clock (tests inject their own). */
  now?: () => number;
  /** Counts refusals as taskproc_rate_limited_total{limit}. */
  registry?: Registry;
}

/**
 * Each tenant's share of this process, for every TaskService RPC but the
 * open ones (open-procedures.ts): one request from its budget per call
 * (streams included: opening one is a request), and one of its watch-stream
 * slots per server stream for as long as the stream lasts. Past either,
 * RESOURCE_EXHAUSTED with retry-after. The tenant is the one authentication
 * found (the default tenant with AUTH_MODE=none), so this runs after it.
 * The metric has no tenant label: tenants are unbounded, labels must not be.
 */
export function tenantLimitsInterceptor(limits: LimitsConfig, options: TenantLimitsOptions = {}): Interceptor {
  const budget = limits.ratePerSecond > 0 ? new TenantBudget({ ratePerSecond: limits.ratePerSecond, burst: limits.burst, now: options.now }) : null;
  const streams = limits.maxWatchStreams > 0 ? new TenantStreamCap(limits.maxWatchStreams) : null;
  const refused = options.registry
    ? new Counter({
        name: 'taskproc_rate_limited_total',
        help: 'Requests refused RESOURCE_EXHAUSTED by a tenant limit: requests (the request budget) or watch_streams (the cap on open watch streams).',
        labelNames: ['limit'],
        registers: [options.registry],
      })
    : null;

  return (next) => async (request) => {
    if (isOpenProcedure(request)) return next(request);
    const tenant = request.contextValues.get(tenantKey);
    const waitSeconds = budget?.take(tenant) ?? 0;
    if (waitSeconds > 0) {
      refused?.inc({ limit: 'requests' });
      throw new ResourceExhaustedError(`this tenant's request budget is spent (${limits.ratePerSecond} per second); retry in ${waitSeconds} s`, {
        retryAfterSeconds: waitSeconds,
      });
    }
    if (!streams || request.method.methodKind !== 'server_streaming') return next(request);

    const release = streams.acquire(tenant);
    if (!release) {
      refused?.inc({ limit: 'watch_streams' });
      throw new ResourceExhaustedError(`this tenant already holds ${limits.maxWatchStreams} watch streams; close one or retry later`, {
        retryAfterSeconds: WATCH_CAP_RETRY_AFTER_S,
      });
    }
    // The request's signal aborts when its HTTP exchange ends in any way
    // (finished, reset by the client, the server shutting down), even if
    // nobody ever iterates the stream; the stream's own end usually comes first.
    request.signal.addEventListener('abort', release, { once: true });
    try {
      const response = await next(request);
      if (!response.stream) {
        release();
        return response;
      }
      return { ...response, message: releasedAtEnd(response.message, release) };
    } catch (error) {
      release();
      throw error;
    }
  };
}

async function* releasedAtEnd<M>(messages: AsyncIterable<M>, release: () => void): AsyncIterable<M> {
  try {
    yield* messages;
  } finally {
    release();
  }
}
