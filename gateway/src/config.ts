import { fileURLToPath } from 'node:url';
import { EnvReader, LOG_LEVELS, type Env, type LogLevel } from '@taskproc/core';

export interface GatewayConfig {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** Where task-api listens, e.g. http://127.0.0.1:50051 (gRPC over HTTP/2 cleartext). */
  upstreamUrl: string;
  logLevel: LogLevel;
  /** The dashboard's built files, served under /ui/ (DEFAULT_UI_DIR when unset). */
  uiDir?: string;
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
  });
}
