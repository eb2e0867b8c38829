import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRegistry, type DescFile } from '@bufbuild/protobuf';
import { file_taskproc_v1_task } from '@taskproc/contract';
import { createLogger, createMetricsRegistry, startMetricsServer, startTracing, type Logger } from '@taskproc/core';
import { DEFAULT_UI_DIR, type GatewayConfig } from './config.js';
import { handleRestRequest, type GatewayAnswer, type GatewayDeps } from './gateway.js';
import { writeEventStream } from './event-stream.js';
import { annotatedServices, envoyIncompatibilities, readRestRoutes } from './http-rules.js';
import { localReply } from './rest-shape.js';
import { RouteTable } from './route-table.js';
import { gatewayTelemetry, type GatewayTelemetry } from './telemetry.js';
import { MAX_REQUEST_HEADER_BYTES, REQUEST_TIMEOUT_MS } from './limits.js';
import { connectUpstream } from './upstream.js';
import { createConnectPassThrough, isConnectCall } from './connect-passthrough.js';
import { createUiFiles, isUiPath } from './ui-files.js';

export type { GatewayConfig } from './config.js';
export { readGatewayConfig } from './config.js';

export interface StartGatewayOptions {
  logger?: Logger;
  /**
   * The descriptors whose google.api.http rules become REST routes; the
   * project's contract by default. Tests pass others to show that a new
   * annotated method needs no gateway change.
   */
  files?: readonly DescFile[];
  /** End-to-end time a REST request may take (Envoy route timeout); tests shorten it. */
  requestTimeoutMs?: number;
  /** Time in-flight requests get on close() before connections are cut. */
  shutdownGraceMs?: number;
}

export interface RunningGateway {
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  port: number;
  /** Where Prometheus scrapes this process, e.g. http://127.0.0.1:9462/metrics */
  metricsUrl: string;
  /** Stops accepting, lets in-flight requests finish (time-boxed), closes the upstream connection. Repeat-safe. */
  close(): Promise<void>;
}

/** Starts the embedded REST gateway: REST on config.host:port, task-api at config.upstreamUrl. */
export async function startGateway(config: GatewayConfig, options: StartGatewayOptions = {}): Promise<RunningGateway> {
  const logger = options.logger ?? createLogger('gateway', config.logLevel);
  const files = options.files ?? [file_taskproc_v1_task];
  const services = annotatedServices(files);
  const restRoutes = readRestRoutes(services);
  for (const problem of restRoutes.flatMap(envoyIncompatibilities)) {
    // Served anyway (response_body is ignored, as if it were unset); Envoy would not start.
    logger.warn({ problem }, 'REST rule Envoy would refuse');
  }
  const tracing = await startTracing(config.tracing ?? { enabled: false, serviceName: 'taskproc-gateway', tracesUrl: '', headers: {}, sampleRatio: 1, disabledInstrumentations: [] }, logger, { database: false });
  const registry = createMetricsRegistry();
  const routes = new RouteTable(restRoutes);
  const telemetry = gatewayTelemetry(registry, routes, { tracing: tracing.enabled });
  const upstream = connectUpstream(config.upstreamUrl);
  const deps: GatewayDeps = {
    routes,
    unary: upstream.unary,
    callUpstream: telemetry.callUpstream,
    transport: upstream.transport,
    registry: createRegistry(...files),
    requestTimeoutMs: options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
  };

  // Open event streams, ended when the gateway stops (they would otherwise
  // hold it open until the grace period cuts their connections).
  const streams = new Set<AbortController>();
  // Beside the REST routes: the dashboard's files and the Connect calls it makes.
  const ui = createUiFiles(config.uiDir ?? DEFAULT_UI_DIR);
  const connect = createConnectPassThrough(config.upstreamUrl);
  // The header limit is Envoy's, above Node.js's 16 KiB default, so an
  // oversized token gets the contract's 401 rather than a bare 431.
  const server = createServer({ maxHeaderSize: MAX_REQUEST_HEADER_BYTES }, (request, response) => {
    if (isUiPath(request.url)) void logged(ui.serve(request, response), request, logger);
    else if (isConnectCall(request)) void logged(connect.forward(request, response), request, logger);
    else void serve(request, response, deps, logger, streams, telemetry);
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
  logger.info(
    { host: config.host, port: address.port, upstream: config.upstreamUrl, routes: restRoutes.map((r) => `${r.httpMethod} ${r.template.source}`) },
    'gateway listening',
  );
  const metrics = await startMetricsServer(registry, config.metrics ?? { host: '127.0.0.1', port: 0 }, logger);

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    metricsUrl: metrics.url,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const stream of streams) stream.abort();
        // A keep-alive connection turns idle once its request is answered (and
        // any unread body discarded); close each as soon as it does.
        const sweep = setInterval(() => server.closeIdleConnections(), 50);
        server.closeIdleConnections();
        // Streams (watches) never end by themselves: end them now.
        connect.close();
        const grace = setTimeout(() => server.closeAllConnections(), options.shutdownGraceMs ?? 10_000);
        await closed;
        clearInterval(sweep);
        clearTimeout(grace);
        upstream.close();
        await metrics.close();
        await tracing.shutdown();
        logger.info('gateway stopped');
      })();
      return closing;
    },
  };
}

async function logged(answered: Promise<number>, request: IncomingMessage, logger: Logger): Promise<void> {
  const started = performance.now();
  try {
    const status = await answered;
    logger.info({ method: request.method, path: request.url, status, durationMs: Math.round(performance.now() - started) }, 'request');
  } catch (error) {
    logger.error({ err: error, method: request.method, path: request.url }, 'request failed');
  }
}

async function serve(
  request: IncomingMessage,
  response: ServerResponse,
  deps: GatewayDeps,
  logger: Logger,
  streams: Set<AbortController>,
  telemetry: GatewayTelemetry,
): Promise<void> {
  await telemetry.serve(request, async () => {
    const started = performance.now();
    const log = logger.child({ method: request.method, path: request.url });
    const stream = new AbortController();
    streams.add(stream);
    // Only a call still in the set needs ending: aborting one that has been
    // answered would build a DOMException per request for nobody.
    response.once('close', () => {
      if (streams.delete(stream)) stream.abort();
    });
    let answer: GatewayAnswer;
    try {
      answer = await handleRestRequest(request, deps, log, stream.signal);
    } catch (error) {
      log.error({ err: error }, 'request failed');
      answer = localReply(500);
    }
    if (answer.frames) {
      await writeEventStream(response, answer.frames, log);
      streams.delete(stream);
      log.info({ status: answer.status, durationMs: Math.round(performance.now() - started) }, 'event stream ended');
      return answer.status;
    }
    streams.delete(stream);
    const body = request.method === 'HEAD' ? '' : answer.body;
    response.writeHead(answer.status, {
      ...answer.headers,
      ...(answer.contentType ? { 'content-type': answer.contentType } : {}),
      'content-length': Buffer.byteLength(body),
    });
    response.end(body);
    if (!request.complete) discardUnreadBody(request);
    log.info({ status: answer.status, durationMs: Math.round(performance.now() - started) }, 'request');
    return answer.status;
  });
}

// A client whose body was refused unread (413 on its Content-Length, 404) is
// usually still sending it. Closing the connection at once would hand it a
// reset (EPIPE) instead of the answer, so the rest of the body is read and
// thrown away; a client that keeps sending well past the limit is cut off.
const MAX_DISCARDED_BYTES = 8 * 1024 * 1024;

function discardUnreadBody(request: IncomingMessage): void {
  let discarded = 0;
  request.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > MAX_DISCARDED_BYTES) request.socket.destroy();
  });
  request.resume();
}
