import type { IncomingMessage } from 'node:http';
import { RequestMappingError } from './request-message.js';

// JSON text must be UTF-8 (RFC 8259, section 8.1). A lenient decode would
// swap invalid bytes for U+FFFD and store content the client never sent;
// Envoy's transcoder refuses such a body, so the embedded gateway does too.
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The body went over the limit while it was read (a chunked or mislabelled body). */
export class BodyTooLargeError extends Error {
  constructor(limit: number) {
    super(`request body larger than ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/**
 * Reads a request body as UTF-8, up to `limit` bytes. Stops reading once the
 * limit is passed; Node.js discards whatever the client still sends after
 * the response has been written. Throws RequestMappingError (400) when the
 * bytes are not valid UTF-8.
 */
export async function readBody(request: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new BodyTooLargeError(limit);
    chunks.push(chunk);
  }
  try {
    return UTF8.decode(Buffer.concat(chunks));
  } catch (error) {
    throw new RequestMappingError('request body is not valid UTF-8', { cause: error });
  }
}
