import { trace } from '@opentelemetry/api';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config/shared.js';

export type { Logger };

/**
 * JSON lines on stdout; one child logger per request or message carries its
 * ids. A line written while a span is active carries its trace_id and
 * span_id, so a log line leads to its trace (with tracing off there is never
 * an active span, and the lookup is the API's no-op).
 */
export function createLogger(service: string, level: LogLevel, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    mixin: traceFields,
  };
  // stdout unless a destination is given (tests read the lines back).
  return destination ? pino(options, destination) : pino(options);
}

function traceFields(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}
