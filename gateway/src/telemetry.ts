import type { IncomingMessage } from 'node:http';
import { context, propagation, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { extractFromHeaders, taskprocTracer } from '@taskproc/core';
import { Histogram, type Registry } from 'prom-client';
import type { RouteTable } from './route-table.js';

// The OpenTelemetry HTTP semantic conventions' buckets for http.server.request.duration.
const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

export interface GatewayTelemetry {
  /** Runs one REST request inside its server span (tracing on) and records its duration and status. */
  serve(request: IncomingMessage, handle: () => Promise<number>): Promise<void>;
  /** Runs the upstream call inside a client span and adds its W3C trace context to the gRPC metadata. */
  callUpstream<T>(procedure: string, headers: Record<string, string>, call: () => Promise<T>): Promise<T>;
}

/**
 * The embedded gateway's metrics (`http_server_request_duration_seconds` by
 * method, route template and status, after the OpenTelemetry HTTP
 * conventions; the route is the annotation's template, never the raw path,
 * so the label set stays bounded) and its spans: a server span per REST
 * request continuing the caller's `traceparent`, and a client span for the
 * gRPC call to task-api. With tracing off the caller's traceparent and
 * tracestate headers are still forwarded to task-api as they came.
 */
export function gatewayTelemetry(registry: Registry, routes: RouteTable, options: { tracing: boolean }): GatewayTelemetry {
  const duration = new Histogram({
    name: 'http_server_request_duration_seconds',
    help: 'Duration of REST requests the gateway answered (OpenTelemetry http.server.request.duration), by method, route and status.',
    labelNames: ['http_request_method', 'http_route', 'http_response_status_code'],
    buckets: HTTP_DURATION_BUCKETS,
    registers: [registry],
  });
  const tracer = taskprocTracer();
  const routeOf = (request: IncomingMessage) => {
    const method = request.method ?? 'GET';
    const path = (request.url ?? '/').split('?')[0]!;
    return routes.match(method === 'HEAD' ? 'GET' : method, path)?.route.template.source ?? 'unmatched';
  };
  const knownMethod = (method: string | undefined) => (method && KNOWN_METHODS.has(method) ? method : '_OTHER');

  return {
    async serve(request, handle) {
      const started = performance.now();
      const method = knownMethod(request.method);
      const route = routeOf(request);
      let span: Span | undefined;
      let active = context.active();
      if (options.tracing) {
        span = tracer.startSpan(
          route === 'unmatched' ? method : `${method} ${route}`,
          { kind: SpanKind.SERVER, attributes: { 'http.request.method': method, 'http.route': route, 'url.path': (request.url ?? '/').split('?')[0]! } },
          extractFromHeaders(request.headers as Record<string, unknown>, active),
        );
        active = trace.setSpan(active, span);
      }
      let status = 500;
      try {
        status = await context.with(active, handle);
      } finally {
        duration.observe({ http_request_method: method, http_route: route, http_response_status_code: String(status) }, (performance.now() - started) / 1000);
        if (span) {
          span.setAttribute('http.response.status_code', status);
          if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
          span.end();
        }
      }
    },
    callUpstream(procedure, headers, call) {
      if (!options.tracing) return call();
      return tracer.startActiveSpan(
        procedure,
        { kind: SpanKind.CLIENT, attributes: { 'rpc.system': 'grpc', 'rpc.service': procedure.split('/')[0]!, 'rpc.method': procedure.split('/')[1]! } },
        async (span) => {
          // This hop's context replaces the caller's traceparent (the caller's is this span's ancestor).
          delete headers.traceparent;
          delete headers.tracestate;
          propagation.inject(context.active(), headers, { set: (carrier, key, value) => (carrier[key.toLowerCase()] = value) });
          try {
            return await call();
          } catch (error) {
            span.recordException(error instanceof Error ? error : String(error));
            span.setStatus({ code: SpanStatusCode.ERROR });
            throw error;
          } finally {
            span.end();
          }
        },
      );
    },
  };
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);
