import { describe, expect, it } from 'vitest';
import { failureMessage, MAX_ERROR_LENGTH } from '../src/tasks/failure-message.js';

describe('failureMessage', () => {
  it("is the error's message, never its stack", () => {
    const error = new Error('the image is corrupt');
    expect(error.stack).toContain('    at ');
    expect(failureMessage(error)).toBe('the image is corrupt');
  });

  it('names an error without a message by its name, and turns other thrown values into text', () => {
    expect(failureMessage(new TypeError(''))).toBe('TypeError without a message');
    expect(failureMessage('plain string')).toBe('plain string');
    expect(failureMessage({ code: 42 })).toBe('the handler threw a non-error value: {"code":42}');
    expect(failureMessage(undefined)).toBe('the handler threw a non-error value: undefined');
  });

  it(`cuts a long message to ${MAX_ERROR_LENGTH} characters with an ellipsis, never inside a surrogate pair`, () => {
    const long = failureMessage(new Error('😀'.repeat(5_000)));
    expect([...long]).toHaveLength(MAX_ERROR_LENGTH);
    expect(long.endsWith('😀…')).toBe(true);
    expect(failureMessage(new Error('x'.repeat(MAX_ERROR_LENGTH)))).toBe('x'.repeat(MAX_ERROR_LENGTH));
  });

  it('drops NUL characters, which PostgreSQL text cannot hold', () => {
    expect(failureMessage(new Error('a\u0000b'))).toBe('ab');
  });
});
