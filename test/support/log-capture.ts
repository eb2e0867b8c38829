import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export interface CapturedLogs {
  logger: Logger;
  /** Every JSON log line so far, parsed. */
  lines: Record<string, unknown>[];
  /** The lines whose `msg` contains `text`. */
  matching(text: string): Record<string, unknown>[];
}

/** A logger that keeps its lines in memory, so a test can wait for what a service said. */
export function captureLogs(level: pino.Level = 'debug'): CapturedLogs {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return {
    logger: pino({ level }, stream),
    lines,
    matching: (text) => lines.filter((line) => String(line.msg ?? '').includes(text)),
  };
}
