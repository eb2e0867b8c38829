import type { ServerResponse } from 'node:http';
import type { Logger } from '@taskproc/core';

// A client that holds its connection open but reads nothing for this long is
// cut off: it would otherwise pin this handler and its socket for good.
const STALLED_READER_MS = 300_000;

/**
 * Writes a Server-Sent Events answer: headers at once, then each frame as it
 * comes, waiting for the client to read (a client that stops reading holds
 * one frame here and task-api's bounded buffer, never an unbounded queue).
 * Ends the response when the frames end, fail, or the client goes away.
 */
export async function writeEventStream(response: ServerResponse, frames: AsyncIterable<string>, log: Logger): Promise<void> {
  response.writeHead(200, {
    'content-type': 'text/event-stream',
    // Intermediaries must neither cache nor buffer an event stream.
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
  });
  response.flushHeaders();
  try {
    for await (const frame of frames) {
      if (response.destroyed) break;
      if (!response.write(frame)) await drained(response);
    }
  } catch (error) {
    // After the first event the status line is sent: the stream just ends,
    // and the client watches again (it then gets the task as it is now).
    if (!response.destroyed) log.warn({ err: error }, 'event stream ended by an upstream error');
  } finally {
    if (!response.destroyed) response.end();
  }
}

function drained(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const stalled = setTimeout(() => {
      response.destroy();
      done();
    }, STALLED_READER_MS);
    const done = () => {
      clearTimeout(stalled);
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.once('drain', done);
    response.once('close', done);
  });
}
