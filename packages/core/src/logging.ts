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
  return pino(options, destination ?? stdoutLines());
}

function traceFields(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

/** Where lines finally go: pino's asynchronous stdout (SonicBoom) or, in tests, anything with write. */
export interface LineSink {
  write(text: string): unknown;
  /** Writes whatever the sink still holds before the process exits. */
  flushSync?(): void;
}

let sharedStdout: DestinationStream | null = null;

/** One stdout destination per process, however many loggers write to it. */
function stdoutLines(): DestinationStream {
  sharedStdout ??= turnBufferedLines(pino.destination({ fd: 1, sync: false }), process);
  return sharedStdout;
}

/**
 * Gathers the lines written during one turn of the event loop and hands
 * them to `sink` as one write at the end of the turn (setImmediate): under
 * load the requests answered together (a group commit's batch) log one write
 * instead of one system call per line, and a quiet process still gets each
 * line out within the turn that wrote it. Lines keep their order. When the
 * process exits (process.exit, a fatal error) the lines of the last turn are
 * written synchronously, so a line logged just before an exit is not lost.
 */
export function turnBufferedLines(sink: LineSink, exits: { once(event: 'exit', listener: () => void): unknown }): DestinationStream {
  let pending: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending.length === 1 ? pending[0]! : pending.join('');
    pending = [];
    sink.write(text);
  };
  exits.once('exit', () => {
    flush();
    try {
      sink.flushSync?.();
    } catch {
      // The sink is gone (stdout closed): nothing left to write to.
    }
  });
  return {
    write(line: string) {
      pending.push(line);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
  };
}
