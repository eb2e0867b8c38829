import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Logger } from '../logging.js';
import type { MetricsConfig } from './telemetry-config.js';

/**
 * A registry of its own per service (not prom-client's global one), so that
 * several services started in one process (tests) keep their metrics apart,
 * with the default process metrics (CPU, memory, event loop, GC, handles).
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Gauges whose names end in _total, which promtool (rightly) refuses; the
  // same values are exported without the suffix (nodejs_active_handles, ...).
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(name);
  }
  return registry;
}

export interface MetricsServer {
  /** e.g. http://127.0.0.1:9461/metrics */
  url: string;
  port: number;
  close(): Promise<void>;
}

// A scrape that takes longer than this is answered 503: Prometheus times
// out at 10 s by default, and a half-collected answer helps no one.
const COLLECT_TIMEOUT_MS = 5_000;

/** Serves `registry` in the Prometheus text format on GET /metrics. */
export async function startMetricsServer(registry: Registry, config: MetricsConfig, logger: Logger): Promise<MetricsServer> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found; metrics are at GET /metrics\n');
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('collecting metrics timed out')), COLLECT_TIMEOUT_MS);
    });
    Promise.race([registry.metrics(), timeout]).then(
      (text) => {
        response.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(text) });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => {
        logger.warn({ err: error }, 'metrics scrape failed');
        response.writeHead(503, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
      },
    ).finally(() => clearTimeout(timer));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}/metrics`;
  logger.info({ url }, 'metrics listening');
  return {
    url,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
