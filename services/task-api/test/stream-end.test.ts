import { describe, expect, it } from 'vitest';
import { observeStreamEnd, type StreamEnd } from '../src/stream-end.js';

// The interceptors learn how every server stream ends through this wrapper:
// each message passes through unchanged, the end is told exactly once, and
// an error reaches the consumer already mapped.

async function* source(values: number[], failWith?: Error, onFinally?: () => void): AsyncGenerator<number> {
  try {
    yield* values;
    if (failWith) throw failWith;
  } finally {
    onFinally?.();
  }
}

async function readAll<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const seen: T[] = [];
  for await (const value of stream) seen.push(value);
  return seen;
}

describe('observeStreamEnd', () => {
  it('passes every message through in order and tells a completed end once', async () => {
    const ends: StreamEnd[] = [];
    const stream = observeStreamEnd(source([1, 2, 3]), (end) => ends.push(end));
    expect(await readAll(stream)).toEqual([1, 2, 3]);
    expect(ends).toEqual([{ kind: 'completed' }]);
  });

  it('throws the mapped error and tells it as the end', async () => {
    const ends: StreamEnd[] = [];
    const mapped = new Error('mapped');
    const stream = observeStreamEnd(source([1], new Error('raw')), (end) => ends.push(end), () => mapped);
    const seen: number[] = [];
    await expect((async () => { for await (const value of stream) seen.push(value); })()).rejects.toBe(mapped);
    expect(seen).toEqual([1]);
    expect(ends).toEqual([{ kind: 'failed', error: mapped }]);
  });

  it('tells a consumer that stops reading as returned, and ends the source', async () => {
    const ends: StreamEnd[] = [];
    let sourceEnded = false;
    const stream = observeStreamEnd(source([1, 2, 3], undefined, () => (sourceEnded = true)), (end) => ends.push(end));
    for await (const value of stream) if (value === 2) break;
    expect(ends).toEqual([{ kind: 'returned' }]);
    expect(sourceEnded).toBe(true);
  });
});
