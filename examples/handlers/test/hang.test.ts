import { describe, expect, it } from 'vitest';
import handler from '../hang.js';
import { context, task } from './context.js';

describe('example handler: hang', () => {
  it('runs until its signal aborts, then rejects with the reason', async () => {
    const controller = new AbortController();
    let settled = false;
    const work = handler(task('anything'), context({ signal: controller.signal })).finally(() => (settled = true));
    // Still running once every pending callback and timer of this turn had its go.
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    const reason = new Error('timed out');
    controller.abort(reason);
    await expect(work).rejects.toBe(reason);
  });

  it('with "stubborn:MS" ignores the abort and finishes after MS anyway', async () => {
    const controller = new AbortController();
    controller.abort(new Error('ignored'));
    const ctx = context({ signal: controller.signal });
    await expect(handler(task('stubborn:30'), ctx)).resolves.toBeUndefined();
    expect(ctx.lines.map((l) => l[0])).toEqual(['stubborn handler finished']);
  });
});
