import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import handler, { stretch } from '../hash-content.js';
import { context, task } from './context.js';

function reference(content: string, rounds: number): string {
  let digest = createHash('sha256').update(content, 'utf8').digest();
  for (let i = 0; i < rounds; i++) digest = createHash('sha256').update(digest).digest();
  return digest.toString('hex');
}

describe('example handler: hash-content', () => {
  it('computes the stretched SHA-256 digest of the content', async () => {
    const signal = new AbortController().signal;
    expect(await stretch('resize image 42', 5_000, signal)).toBe(reference('resize image 42', 5_000));
    expect(await stretch('résumé ✓', 1, signal)).toBe(reference('résumé ✓', 1));
  });

  it('logs the digest of a task', async () => {
    const ctx = context();
    await handler(task('hello'), ctx);
    expect(ctx.lines).toHaveLength(1);
    expect(ctx.lines[0]![0]).toMatchObject({ digest: expect.stringMatching(/^[0-9a-f]{64}$/), rounds: 200_000 });
  });

  it('stops within a chunk when its signal aborts, rejecting with the reason', async () => {
    const controller = new AbortController();
    const reason = new Error('canceled');
    const work = handler(task('long'), context({ signal: controller.signal }));
    // Abort from a timer: it can only fire if the handler yields to the event loop.
    setTimeout(() => controller.abort(reason), 5);
    await expect(work).rejects.toBe(reason);
  });
});
