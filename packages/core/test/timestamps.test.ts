import { describe, expect, it } from 'vitest';
import { splitTimestamp, toCanonicalTimestamp } from '../src/timestamps.js';

describe('toCanonicalTimestamp', () => {
  it.each([
    ['2024-10-28 08:04:08.990161+00', '2024-10-28T08:04:08.990161Z'],
    ['2024-10-28 08:04:08.99+00', '2024-10-28T08:04:08.990000Z'],
    ['2024-10-28 08:04:08+00', '2024-10-28T08:04:08.000000Z'],
    ['2024-10-28 10:04:08.000001+02', '2024-10-28T08:04:08.000001Z'],
    ['2024-10-28 03:34:08.5-04:30', '2024-10-28T08:04:08.500000Z'],
    ['2024-12-31 23:59:59.999999-01', '2025-01-01T00:59:59.999999Z'],
  ])('turns %s into %s', (input, expected) => {
    expect(toCanonicalTimestamp(input)).toBe(expected);
  });

  it('refuses text that is not a timestamp', () => {
    expect(() => toCanonicalTimestamp('yesterday')).toThrow(/not a timestamptz/);
  });
});

describe('splitTimestamp', () => {
  it('gives seconds and nanoseconds with microsecond precision', () => {
    expect(splitTimestamp('2024-10-28T08:04:08.990161Z')).toEqual({ seconds: 1730102648n, nanos: 990_161_000 });
  });
});
