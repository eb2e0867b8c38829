import { useEffect, useState } from 'preact/hooks';
import type { LiveHub } from '../live-hub.js';

/** Whether the page is live (WatchTasks open), in words, not colour alone. */
export function StreamBadge({ hub }: { hub: LiveHub }) {
  const [state, setState] = useState(hub.state);
  useEffect(() => hub.onState(setState), [hub]);
  const text =
    state.kind === 'live'
      ? 'live'
      : state.kind === 'retrying'
        ? `reconnecting in ${Math.round(state.inMs / 100) / 10} s (${state.reason})`
        : state.kind === 'ended'
          ? 'ended'
          : 'connecting…';
  return (
    <p class={`stream stream-${state.kind}`} role="status" data-stream={state.kind}>
      <span aria-hidden="true" class="dot" /> Updates: {text}
    </p>
  );
}
