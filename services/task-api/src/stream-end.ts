/** How a response stream ended: all its messages sent, an error, or the consumer stopped reading (the client went away). */
export type StreamEnd = { kind: 'completed' } | { kind: 'failed'; error: unknown } | { kind: 'returned' };

/**
 * The stream `messages` as it is, telling `onEnd` once how it ended; an
 * error is replaced by `mapError(error)` before anyone sees it.
 *
 * The interceptors wrap every server stream (a watcher gets one message per
 * change of its task, a dashboard's WatchTasks thousands): an async
 * generator with `yield*` costs several promise turns per message on top of
 * connect's own, so the wrapper forwards each `next()` with one `then`.
 */
export function observeStreamEnd<T>(
  messages: AsyncIterable<T>,
  onEnd: (end: StreamEnd) => void,
  mapError: (error: unknown) => unknown = (error) => error,
): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const source = messages[Symbol.asyncIterator]();
      let ended = false;
      const end = (how: StreamEnd) => {
        if (ended) return;
        ended = true;
        onEnd(how);
      };
      const fail = (error: unknown): never => {
        const mapped = mapError(error);
        end({ kind: 'failed', error: mapped });
        throw mapped;
      };
      return {
        next: () =>
          source.next().then((result) => {
            if (result.done) end({ kind: 'completed' });
            return result;
          }, fail),
        return: (value?: unknown) => {
          end({ kind: 'returned' });
          return source.return ? source.return(value).catch(fail) : Promise.resolve({ done: true as const, value: value as T });
        },
        throw: (error?: unknown) => (source.throw ? source.throw(error).catch(fail) : Promise.resolve(fail(error))),
      };
    },
  };
}
