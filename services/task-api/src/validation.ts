import { InvalidArgumentError, isUuid } from '@taskproc/core';

/** The contract's bounds on a task's content, in UTF-8 bytes. */
export const MAX_CONTENT_BYTES = 65_536;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function validateContent(content: string): string {
  if (content.length === 0) {
    throw new InvalidArgumentError('content must not be empty');
  }
  // A lone surrogate: bytes that were not UTF-8 in a binary request (see utf8.ts).
  if (LONE_SURROGATE.test(content)) {
    throw new InvalidArgumentError('content must be valid UTF-8');
  }
  // Valid UTF-8, but PostgreSQL text cannot hold it: refuse it here rather
  // than let the database's refusal look like an outage.
  if (content.includes('\u0000')) {
    throw new InvalidArgumentError('content must not contain the NUL character (U+0000)');
  }
  const bytes = Buffer.byteLength(content, 'utf8');
  if (bytes > MAX_CONTENT_BYTES) {
    throw new InvalidArgumentError(`content must be at most ${MAX_CONTENT_BYTES} UTF-8 bytes, got ${bytes}`);
  }
  return content;
}

/** A task id in canonical lower-case form (PostgreSQL compares uuids, clients may send upper case). */
export function validateTaskId(taskId: string): string {
  if (!isUuid(taskId)) {
    throw new InvalidArgumentError('task_id must be a UUID');
  }
  return taskId.toLowerCase();
}
