import { Type, type Platform, type EntityProperty } from '@mikro-orm/core';
import { toCanonicalTimestamp } from '../timestamps.js';

/**
 * A timestamptz column held in JS as a canonical RFC 3339 string with six
 * fractional digits. MikroORM's PostgreSQL driver hands timestamptz values over
 * as text, so no precision is lost on the way to a client (a Date would drop
 * the microseconds the contract promises).
 */
export class MicrosTimestampType extends Type<string | null, string | null> {
  override convertToJSValue(value: string | Date | null): string | null {
    return fromDatabaseTimestamp(value);
  }

  override convertToDatabaseValue(value: string | null): string | null {
    return value;
  }

  override getColumnType(_prop: EntityProperty, _platform: Platform): string {
    return 'timestamptz(6)';
  }

  override compareAsType(): string {
    return 'string';
  }
}

/** A timestamptz as the driver hands it over (text, or a Date if a parser made one), as a canonical string. */
export function fromDatabaseTimestamp(value: string | Date | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString().replace('Z', '000Z');
  return toCanonicalTimestamp(value);
}
