import { fileURLToPath } from 'node:url';
import { EnvReader, LOG_LEVELS, readTracingConfig, type Env, type LogLevel, type MetricsConfig, type TracingConfig } from '@taskproc/core';

export interface GatewayConfig {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** Where task-api listens, e.g. http://127.0.0.1:50051 (gRPC over HTTP/2 cleartext). */
  upstreamUrl: string;
  logLevel: LogLevel;
  /** The dashboard's built files, served under /ui/ (DEFAULT_UI_DIR when unset). */
  uiDir?: string;
  /** Prometheus metrics (GATEWAY_METRICS_HOST, GATEWAY_METRICS_PORT; default 127.0.0.1:9462); a free loopback port when omitted. */
  metrics?: MetricsConfig;
  /** OpenTelemetry traces over OTLP, on when OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT is set; off when omitted. */
  tracing?: TracingConfig;
}

/** dashboard/dist of this checkout, where `make dashboard` builds it. */
export const DEFAULT_UI_DIR = fileURLToPath(new URL('../../dashboard/dist', import.meta.url));

/** Reads and validates the gateway's settings once, at start. */
export function readGatewayConfig(env: Env = process.env): Readonly<GatewayConfig> {
  const reader = new EnvReader(env);
  return reader.done({
    host: reader.string('GATEWAY_HOST', '127.0.0.1'),
    port: reader.integer('GATEWAY_PORT', 8080, { min: 0, max: 65535 }),
    upstreamUrl: reader.url('GATEWAY_UPSTREAM_URL', ['http:'], 'http://127.0.0.1:50051'),
    logLevel: reader.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    uiDir: reader.string('GATEWAY_UI_DIR', DEFAULT_UI_DIR),
    metrics: { host: reader.string('GATEWAY_METRICS_HOST', '127.0.0.1'), port: reader.integer('GATEWAY_METRICS_PORT', 9462, { min: 0, max: 65535 }) },
    tracing: readTracingConfig(reader, 'taskproc-gateway'),
  });
}
