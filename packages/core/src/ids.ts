import { v7 as uuidv7 } from 'uuid';

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A new time-ordered task id (UUIDv7), so ids sort roughly by creation. */
export function newTaskId(): string {
  return uuidv7();
}

/** Any RFC 9562 UUID in its canonical 8-4-4-4-12 hex text form. */
export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}
