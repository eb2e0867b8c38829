import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { extractFromHeaders, taskprocTracer } from '@taskproc/core';
import { Gauge, Histogram, type Registry } from 'prom-client';
import { observeStreamEnd } from './stream-end.js';

// Buckets of the OpenTelemetry RPC semantic conventions' duration histogram
// (seconds), so stock dashboards' quantiles fit.
const RPC_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/**
 * Metrics and a server span per RPC, named and labelled after the
 * OpenTelemetry semantic conventions for RPC: `rpc.server.call.duration` as
 * `rpc_server_call_duration_seconds{rpc_system, rpc_service, rpc_method,
 * rpc_grpc_status_code}` (its _count is the number of calls), and server
 * streams open now (watchers, health Watch). The span continues the caller's
 * W3C `traceparent` (gRPC metadata, or a Connect/gRPC-Web request header,
 * which both gateways forward). It is the outermost interceptor, so it sees
 * the code the client gets and the request log line carries its trace id.
 */
export function rpcTelemetryInterceptor(registry: Registry, options: { tracing: boolean }): Interceptor {
  const duration = new Histogram({
    name: 'rpc_server_call_duration_seconds',
    help: 'Duration of RPCs handled by this server (OpenTelemetry rpc.server.call.duration), by procedure and status code.',
    labelNames: ['rpc_system', 'rpc_service', 'rpc_method', 'rpc_grpc_status_code'],
    buckets: RPC_DURATION_BUCKETS,
    registers: [registry],
  });
  const activeStreams = new Gauge({
    name: 'rpc_server_active_streams',
    help: 'Server-streaming RPCs open now (e.g. task watchers), by procedure.',
    labelNames: ['rpc_system', 'rpc_service', 'rpc_method'],
    registers: [registry],
  });
  const tracer = taskprocTracer();

  return (next) => async (request) => {
    const started = performance.now();
    const labels = {
      rpc_system: rpcSystem(request.header.get('content-type')),
      rpc_service: request.service.typeName,
      rpc_method: request.method.name,
    };
    let span: Span | undefined;
    let active = context.active();
    if (options.tracing) {
      span = tracer.startSpan(
        `${labels.rpc_service}/${labels.rpc_method}`,
        { kind: SpanKind.SERVER, attributes: { 'rpc.system': labels.rpc_system, 'rpc.service': labels.rpc_service, 'rpc.method': labels.rpc_method } },
        extractFromHeaders(request.header, active),
      );
      active = trace.setSpan(active, span);
    }
    const finish = (error?: unknown) => {
      const code: number = error === undefined ? 0 : ConnectError.from(error).code; // 0: OK (Code has no member for it)
      duration.observe({ ...labels, rpc_grpc_status_code: String(code) }, (performance.now() - started) / 1000);
      if (span) {
        span.setAttribute('rpc.grpc.status_code', code);
        // Server spans are errors for the codes that mean the server failed (semantic conventions).
        if (SERVER_ERROR_CODES.has(code)) span.setStatus({ code: SpanStatusCode.ERROR, message: Code[code] });
        span.end();
      }
    };
    try {
      const response = await context.with(active, () => next(request));
      if (!response.stream) {
        finish();
        return response;
      }
      activeStreams.inc(labels);
      return {
        ...response,
        message: observeStreamEnd(response.message, (end) => {
          activeStreams.dec(labels);
          if (end.kind === 'completed') finish();
          else if (end.kind === 'failed') finish(end.error);
          // The client went away (the iterator was returned early): the stream ended without a status.
          else finish(new ConnectError('stream closed by the client', Code.Canceled));
        }),
      };
    } catch (error) {
      finish(error);
      throw error;
    }
  };
}

const SERVER_ERROR_CODES = new Set([Code.Unknown, Code.DeadlineExceeded, Code.Unimplemented, Code.Internal, Code.Unavailable, Code.DataLoss]);

/** gRPC and gRPC-Web requests carry application/grpc*; everything else here is the Connect protocol. */
function rpcSystem(contentType: string | null): 'grpc' | 'connect_rpc' {
  return contentType?.startsWith('application/grpc') ? 'grpc' : 'connect_rpc';
}
