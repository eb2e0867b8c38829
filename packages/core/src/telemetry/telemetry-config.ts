import type { EnvReader } from '../config/env.js';

/** Where a service serves its Prometheus metrics (GET /metrics); each service's config module reads its own variables. */
export interface MetricsConfig {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
}

/**
 * Traces are exported over OTLP/HTTP when the standard OpenTelemetry
 * variables name an endpoint, and off otherwise: then no SDK is loaded or
 * started at all, and the tracing calls in the code are the API's no-ops.
 */
export interface TracingConfig {
  enabled: boolean;
  serviceName: string;
  /** Full URL of the traces endpoint, e.g. http://jaeger:4318/v1/traces. */
  tracesUrl: string;
  /** Extra request headers for the exporter (OTEL_EXPORTER_OTLP_[TRACES_]HEADERS). */
  headers: Record<string, string>;
  /** Fraction of root traces sampled (a caller's sampled flag is followed). */
  sampleRatio: number;
  /** Instrumentations not to load (OTEL_NODE_DISABLED_INSTRUMENTATIONS; here only `pg` exists). */
  disabledInstrumentations: string[];
}

const SAMPLERS = ['parentbased_always_on', 'parentbased_traceidratio', 'always_on', 'traceidratio'] as const;

/**
 * The OpenTelemetry SDK's standard variables, the subset this project
 * honours: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (a full URL) or
 * OTEL_EXPORTER_OTLP_ENDPOINT (a base URL, /v1/traces appended),
 * OTEL_EXPORTER_OTLP_PROTOCOL (http/json or http/protobuf: both are sent as
 * JSON, which every OTLP/HTTP receiver accepts; grpc is refused),
 * OTEL_EXPORTER_OTLP_[TRACES_]HEADERS, OTEL_SERVICE_NAME, OTEL_SDK_DISABLED,
 * OTEL_TRACES_EXPORTER (otlp or none), OTEL_TRACES_SAMPLER(_ARG),
 * OTEL_NODE_DISABLED_INSTRUMENTATIONS (as the Node.js auto-instrumentation
 * reads it: a comma-separated list; `pg` is the one instrumentation here).
 */
export function readTracingConfig(reader: EnvReader, defaultServiceName: string): TracingConfig {
  const tracesEndpoint = reader.string('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', '');
  const baseEndpoint = reader.string('OTEL_EXPORTER_OTLP_ENDPOINT', '');
  const disabled = reader.boolean('OTEL_SDK_DISABLED', false);
  const exporter = reader.oneOf('OTEL_TRACES_EXPORTER', ['otlp', 'none'] as const, 'otlp');
  reader.oneOf('OTEL_EXPORTER_OTLP_PROTOCOL', ['http/json', 'http/protobuf'] as const, 'http/protobuf');
  reader.oneOf('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', ['http/json', 'http/protobuf'] as const, 'http/protobuf');
  const sampler = reader.oneOf('OTEL_TRACES_SAMPLER', SAMPLERS, 'parentbased_always_on');
  // always_on and traceidratio ignore a caller's sampled flag in the specification; here every
  // sampler follows it (a caller that sampled its request gets the task's trace).
  const ratio = reader.number('OTEL_TRACES_SAMPLER_ARG', 1, { min: 0, max: 1 });
  const sampleRatio = sampler.endsWith('traceidratio') ? ratio : 1;
  const tracesUrl = tracesEndpoint || (baseEndpoint ? `${baseEndpoint.replace(/\/+$/, '')}/v1/traces` : '');
  // Names the variable when the URL is unusable.
  if (tracesUrl) reader.url(tracesEndpoint ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT', ['http:', 'https:']);
  return {
    enabled: tracesUrl !== '' && !disabled && exporter === 'otlp',
    serviceName: reader.string('OTEL_SERVICE_NAME', defaultServiceName),
    tracesUrl,
    headers: {
      ...parseHeaders(reader.string('OTEL_EXPORTER_OTLP_HEADERS', '')),
      ...parseHeaders(reader.string('OTEL_EXPORTER_OTLP_TRACES_HEADERS', '')),
    },
    sampleRatio,
    disabledInstrumentations: reader
      .string('OTEL_NODE_DISABLED_INSTRUMENTATIONS', '')
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean),
  };
}

/** `key1=value1,key2=value2` (values URL-encoded), as the OpenTelemetry specification has it. */
function parseHeaders(text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const at = pair.indexOf('=');
    if (at <= 0) continue;
    headers[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(pair.slice(at + 1).trim());
  }
  return headers;
}
