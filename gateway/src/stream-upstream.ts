import { ConnectError, type Transport } from '@connectrpc/connect';
import type { DescMessage, DescMethod, MessageShape, Registry } from '@bufbuild/protobuf';
import { printLikeTranscoder } from './proto-json.js';
import { transcodedError, UpstreamFailure, isTransportFailure, type TranscodedResponse } from './upstream.js';

// A server-streaming call as the transcoder serves it on a route with
// stream_sse_style_delimited: nothing is sent before the first message, so
// an error before it is an ordinary REST error (status and Status body; a
// refused token or a spent budget is a 401 or 429 before the stream starts);
// after it, each message is one "data: <JSON>\n\n" frame.

export type StreamAnswer = { kind: 'error'; response: TranscodedResponse } | { kind: 'frames'; frames: AsyncGenerator<string> };

/**
 * Opens the stream and waits for its first message. Rejects with
 * UpstreamFailure (503) when task-api cannot be reached. Aborting `signal`
 * (the REST client went away, or the gateway stops) ends the call.
 */
export async function callServerStream(
  transport: Transport,
  method: DescMethod & { methodKind: 'server_streaming' },
  input: MessageShape<DescMessage>,
  options: { headers: Headers; signal: AbortSignal; registry: Registry },
): Promise<StreamAnswer> {
  let messages: AsyncIterator<MessageShape<DescMessage>>;
  let first: IteratorResult<MessageShape<DescMessage>>;
  try {
    const response = await transport.stream(method, options.signal, undefined, options.headers, single(input), undefined);
    messages = response.message[Symbol.asyncIterator]();
    first = await messages.next();
  } catch (error) {
    const failure = ConnectError.from(error);
    if (isTransportFailure(failure)) throw new UpstreamFailure(503, { cause: error });
    return { kind: 'error', response: transcodedError(failure, options.registry) };
  }
  const print = (message: MessageShape<DescMessage>) => `data: ${printLikeTranscoder(method.output, message, options.registry)}\n\n`;
  async function* frames(): AsyncGenerator<string> {
    try {
      if (first.done) return;
      yield print(first.value);
      for (let next = await messages.next(); !next.done; next = await messages.next()) yield print(next.value);
    } finally {
      await messages.return?.();
    }
  }
  return { kind: 'frames', frames: frames() };
}

async function* single<T>(message: T): AsyncIterable<T> {
  yield message;
}
