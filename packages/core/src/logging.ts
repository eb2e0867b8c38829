import { pino, type Logger } from 'pino';
import type { LogLevel } from './config/shared.js';

export type { Logger };

/** JSON lines on stdout; one child logger per request or message carries its ids. */
export function createLogger(service: string, level: LogLevel): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
