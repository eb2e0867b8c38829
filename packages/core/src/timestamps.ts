// Task timestamps keep PostgreSQL's microsecond precision end to end. A JS Date
// holds milliseconds only, so they travel as canonical strings
// ("2024-10-28T08:04:08.990161Z") and become protobuf Timestamps at the edge.

const PG_TIMESTAMPTZ = /^(\d{4,}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * Converts PostgreSQL's text form of a timestamptz (any session time zone) to
 * RFC 3339 UTC with exactly six fractional digits and a trailing "Z".
 */
export function toCanonicalTimestamp(text: string): string {
  const match = PG_TIMESTAMPTZ.exec(text.trim());
  if (!match) {
    throw new Error(`not a timestamptz: ${JSON.stringify(text)}`);
  }
  const [, date, time, fraction = '', zone = 'Z'] = match;
  const offset = zone === 'Z' ? 'Z' : normalizeOffset(zone);
  const wholeSeconds = new Date(`${date}T${time}${offset}`);
  if (Number.isNaN(wholeSeconds.getTime())) {
    throw new Error(`not a timestamptz: ${JSON.stringify(text)}`);
  }
  return `${wholeSeconds.toISOString().slice(0, 19)}.${fraction.padEnd(6, '0')}Z`;
}

function normalizeOffset(zone: string): string {
  const digits = zone.slice(1).replace(':', '');
  return `${zone[0]}${digits.slice(0, 2)}:${digits.slice(2, 4) || '00'}`;
}

/** Seconds and nanoseconds of a canonical timestamp, as a protobuf Timestamp holds them. */
export function splitTimestamp(canonical: string): { seconds: bigint; nanos: number } {
  const millis = Date.parse(`${canonical.slice(0, 19)}Z`);
  const micros = Number(canonical.slice(20, 26));
  return { seconds: BigInt(millis / 1000), nanos: micros * 1000 };
}
