// Reads a Server-Sent Events answer frame by frame, as the REST watch route
// sends it: "data: <task JSON>\n\n" events and ": ..." comment lines.

export interface EventStreamAnswer {
  status: number;
  contentType: string | null;
  /** The JSON error body when the answer is not an event stream. */
  error?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Every frame as received, in order, the blank line included. */
  frames: string[];
}

/**
 * GETs `url` and collects frames until the stream ends; `onFrame` may act
 * on each (and return true to stop reading).
 */
export async function readEventStream(
  url: string,
  onFrame: (frame: string, index: number) => Promise<boolean | void> | boolean | void = () => {},
  signal?: AbortSignal,
): Promise<EventStreamAnswer> {
  const response = await fetch(url, { headers: { accept: 'text/event-stream' }, signal });
  const contentType = response.headers.get('content-type');
  if (!contentType?.startsWith('text/event-stream')) {
    return { status: response.status, contentType, error: JSON.parse(await response.text()), frames: [] };
  }
  const frames: string[] = [];
  const decoder = new TextDecoder();
  let pending = '';
  const reader = response.body!.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += decoder.decode(value, { stream: true });
      for (let end = pending.indexOf('\n\n'); end >= 0; end = pending.indexOf('\n\n')) {
        const frame = pending.slice(0, end + 2);
        pending = pending.slice(end + 2);
        frames.push(frame);
        if (await onFrame(frame, frames.length - 1)) return { status: response.status, contentType, frames };
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  if (pending !== '') frames.push(pending);
  return { status: response.status, contentType, frames };
}

/** The task of a "data:" frame; undefined for a comment. */
export function taskOf(frame: string): any { // eslint-disable-line @typescript-eslint/no-explicit-any
  return frame.startsWith('data: ') ? JSON.parse(frame.slice(6)) : undefined;
}
