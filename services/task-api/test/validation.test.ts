import { describe, expect, it } from 'vitest';
import { Code, ConnectError } from '@connectrpc/connect';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, UnavailableError } from '@taskproc/core';
import { toConnectError } from '../src/error-mapping.js';
import { validateContent, validateTaskId } from '../src/validation.js';

describe('validateContent', () => {
  it('counts UTF-8 bytes, not characters', () => {
    expect(validateContent('é'.repeat(32_768))).toHaveLength(32_768);
    expect(() => validateContent('é'.repeat(32_769))).toThrow(InvalidArgumentError);
  });

  it('refuses empty content', () => {
    expect(() => validateContent('')).toThrow('content must not be empty');
  });

  it('refuses the NUL character, which PostgreSQL text cannot store', () => {
    expect(() => validateContent('a\u0000b')).toThrow(InvalidArgumentError);
  });

  it('refuses a lone surrogate (bytes that were not UTF-8), and keeps U+FFFD a client sent', () => {
    expect(() => validateContent('a\uD800')).toThrow('content must be valid UTF-8');
    expect(validateContent('a\uFFFDb')).toBe('a\uFFFDb');
  });
});

describe('validateTaskId', () => {
  it('accepts any canonical UUID and lower-cases it', () => {
    expect(validateTaskId('0193F1F2-7C1E-7A55-9A0E-3F2B1C4D5E6F')).toBe('0193f1f2-7c1e-7a55-9a0e-3f2b1c4d5e6f');
  });

  it.each(['', 'x', '0193f1f2-7c1e-7a55-9a0e-3f2b1c4d5e6', '0193f1f27c1e7a559a0e3f2b1c4d5e6f', "1' or '1'='1"])(
    'refuses %j',
    (id) => {
      expect(() => validateTaskId(id)).toThrow('task_id must be a UUID');
    },
  );
});

describe('toConnectError', () => {
  it.each([
    [new InvalidArgumentError('bad'), Code.InvalidArgument],
    [new NotFoundError('gone'), Code.NotFound],
    [new FailedPreconditionError('final'), Code.FailedPrecondition],
    [new UnavailableError('down'), Code.Unavailable],
  ])('maps %s', (error, code) => {
    const mapped = toConnectError(error);
    expect(mapped.code).toBe(code);
    expect(mapped.rawMessage).toBe(error.message);
  });

  it('hides unexpected errors behind INTERNAL, keeping them as the cause', () => {
    const secret = new Error('relation "task" does not exist at character 15');
    const mapped = toConnectError(secret);
    expect(mapped.code).toBe(Code.Internal);
    expect(mapped.rawMessage).toBe('internal error');
    expect(mapped.cause).toBe(secret);
  });

  it('treats a refused database connection as UNAVAILABLE', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(toConnectError(refused).code).toBe(Code.Unavailable);
    expect(toConnectError(refused).rawMessage).toBe('the database is unavailable');
  });

  it('does not mistake a refused statement (protocol violation) for an outage', () => {
    const refused = Object.assign(new Error('invalid message format'), { code: '08P01' });
    expect(toConnectError(refused).code).toBe(Code.Internal);
  });

  it('passes ConnectErrors through', () => {
    const error = new ConnectError('x', Code.ResourceExhausted);
    expect(toConnectError(error)).toBe(error);
  });
});
