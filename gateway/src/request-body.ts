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
export function readBody(request: IncomingMessage, limit: number): Promise<string> {
  // Stream events rather than `for await`: the async iterator costs more per
  // request than the one or two chunks a REST body comes in.
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        finish();
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      finish();
      try {
        resolve(UTF8.decode(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
      } catch (error) {
        reject(new RequestMappingError('request body is not valid UTF-8', { cause: error }));
      }
    };
    const onError = (error: Error) => {
      finish();
      reject(error);
    };
    const onClose = () => {
      // Closed before the end: the client went away (as `for await` reports it).
      finish();
      reject(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    };
    function finish() {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onError);
      request.off('close', onClose);
      // Stopped over the limit: the rest stays unread (the answer is written,
      // then the unread body is discarded).
      if (size > limit) request.pause();
    }
    request.on('data', onData);
    request.once('end', onEnd);
    request.once('error', onError);
    request.once('close', onClose);
  });
}
