import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createLogger, turnBufferedLines } from '../src/logging.js';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

function recordingSink() {
  const writes: string[] = [];
  let flushedSync = 0;
  return { writes, flushedSync: () => flushedSync, sink: { write: (text: string) => writes.push(text), flushSync: () => void flushedSync++ } };
}

describe('turnBufferedLines', () => {
  it('hands the lines of one turn to the sink as one write, in order, at the end of the turn', async () => {
    const { writes, sink } = recordingSink();
    const lines = turnBufferedLines(sink, new EventEmitter());
    lines.write('a\n');
    lines.write('b\n');
    lines.write('c\n');
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes).toEqual(['a\nb\nc\n']);
    lines.write('d\n');
    await nextTurn();
    expect(writes).toEqual(['a\nb\nc\n', 'd\n']);
  });

  it('writes the lines of the last turn when the process exits, then flushes the sink synchronously', () => {
    const { writes, flushedSync, sink } = recordingSink();
    const exits = new EventEmitter();
    const lines = turnBufferedLines(sink, exits);
    lines.write('fatal\n');
    exits.emit('exit', 137);
    expect(writes).toEqual(['fatal\n']);
    expect(flushedSync()).toBe(1);
  });

  it('a logger of a process that exits right after logging still gets its lines out', () => {
    const logging = fileURLToPath(new URL('../src/logging.ts', import.meta.url));
    const script = `const { createLogger } = await import(${JSON.stringify(logging)});
      const logger = createLogger('probe', 'info');
      for (let i = 0; i < 3; i++) logger.info({ i }, 'line');
      logger.fatal('exiting');
      process.exit(137);`;
    let stdout = '';
    try {
      execFileSync(process.execPath, ['--conditions=development', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    } catch (error) {
      const failed = error as { status: number; stdout: string };
      expect(failed.status).toBe(137);
      stdout = failed.stdout;
    }
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as { msg: string; i?: number; service: string });
    expect(lines.map((line) => line.msg)).toEqual(['line', 'line', 'line', 'exiting']);
    expect(lines.map((line) => line.i)).toEqual([0, 1, 2, undefined]);
    expect(lines.every((line) => line.service === 'probe')).toBe(true);
  });

  it('a logger given a destination writes to it directly (as tests read lines back)', () => {
    const lines: string[] = [];
    const logger = createLogger('direct', 'info', { write: (line: string) => void lines.push(line) });
    logger.info('now');
    expect(lines).toHaveLength(1);
  });
});
