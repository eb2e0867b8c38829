import type { Timestamp } from '@bufbuild/protobuf/wkt';

// Timestamps and durations as the dashboard shows them.

export function millisOf(timestamp: Timestamp | undefined): number | undefined {
  if (!timestamp) return undefined;
  return Number(timestamp.seconds) * 1000 + timestamp.nanos / 1e6;
}

/** "2024-10-28 08:04:08.990 UTC"; "—" when unset. */
export function formatTime(timestamp: Timestamp | undefined): string {
  const ms = millisOf(timestamp);
  if (ms === undefined) return '—';
  return `${new Date(ms).toISOString().replace('T', ' ').replace('Z', '')} UTC`;
}

/** A duration for people: "850 ms", "3.2 s", "4 min 5 s", "2 h 3 min". */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 0) ms = 0;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

/** A datetime-local input's value (local time) as a Date; undefined when empty or invalid. */
export function parseLocalDateTime(value: string): Date | undefined {
  if (!value) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
