import { describe, expect, it } from 'vitest';
import { create, toBinary, toJson } from '@bufbuild/protobuf';
import { TaskStatus, WatchTaskResponseSchema } from '@taskproc/contract';
import { preEncoded } from '../src/watching/shared-responses.js';

describe('preEncoded', () => {
  it('encodes to exactly the bytes of the message it stands for, and sets no field', () => {
    const message = create(WatchTaskResponseSchema, {
      task: { id: '0193f1f2-7c1e-7a55-9a0e-3f2b1c4d5e6f', content: 'ü'.repeat(300), status: TaskStatus.PROCESSING, createdAt: { seconds: 1n, nanos: 5 } },
    });
    const shell = preEncoded(WatchTaskResponseSchema, message);
    expect(toBinary(WatchTaskResponseSchema, shell)).toEqual(toBinary(WatchTaskResponseSchema, message));
    expect(shell.task).toBeUndefined();
    // Why JSON streams get the real message: the JSON codec drops unknown fields.
    expect(toJson(WatchTaskResponseSchema, shell)).toEqual({});
  });
});
