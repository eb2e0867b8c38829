import { describe, expect, it } from 'vitest';
import handler from '../fail-on-purpose.js';
import { context, task } from './context.js';

describe('example handler: fail-on-purpose', () => {
  it('fails every attempt of content starting with "fail", with a recognisable message', async () => {
    for (const failedAttempts of [0, 1, 5]) {
      await expect(handler(task('fail this one'), context({ failedAttempts }))).rejects.toThrow('refused on purpose: the content starts with "fail"');
    }
  });

  it('fails the first N attempts of "flaky:N", then succeeds', async () => {
    await expect(handler(task('flaky:2'), context({ failedAttempts: 0 }))).rejects.toThrow('flaky on purpose: failure 1 of 2');
    await expect(handler(task('flaky:2'), context({ failedAttempts: 1 }))).rejects.toThrow('flaky on purpose: failure 2 of 2');
    await expect(handler(task('flaky:2'), context({ failedAttempts: 2 }))).resolves.toBeUndefined();
  });

  it('succeeds for other content', async () => {
    await expect(handler(task('resize image 42'), context())).resolves.toBeUndefined();
  });

  it('honours its signal', async () => {
    const controller = new AbortController();
    const work = handler(task('fail'), context({ signal: controller.signal }));
    controller.abort(new Error('stop'));
    await expect(work).rejects.toThrow('stop');
  });
});
