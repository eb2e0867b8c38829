import type { Timestamp } from '@bufbuild/protobuf/wkt';
import type { CreateTaskRequest } from '@taskproc/contract';
import { InvalidArgumentError, type NewTask } from '@taskproc/core';
import { validateContent } from './validation.js';

// The options of a create (request_id, schedule_time), checked before
// anything is stored. Messages name the field, and in a batch the item's
// index ("requests[3].schedule_time ..."), so a client can fix its request.

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** How far ahead a task may be scheduled. */
export const MAX_SCHEDULE_AHEAD_MS = 366 * 86_400_000;

// The range of google.protobuf.Timestamp: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
const MIN_SECONDS = -62_135_596_800n;
const MAX_SECONDS = 253_402_300_799n;

/** What a create asks for, before the handler adds the caller's tenant. */
export type CreateRequestItem = Omit<NewTask, 'tenant'>;

/** A CreateTaskRequest (alone, or item `index` of a batch) as the store takes it, but for the tenant. */
export function validateCreateRequest(request: CreateTaskRequest, now: number, index?: number): CreateRequestItem {
  const field = (name: string) => (index === undefined ? name : `requests[${index}].${name}`);
  let content: string;
  try {
    content = validateContent(request.content);
  } catch (error) {
    // validateContent's messages start with the field's name.
    if (index !== undefined && error instanceof InvalidArgumentError) throw new InvalidArgumentError(`requests[${index}].${error.message}`);
    throw error;
  }
  const item: CreateRequestItem = { content };
  if (request.requestId !== '') {
    if (!REQUEST_ID.test(request.requestId)) {
      throw new InvalidArgumentError(`${field('request_id')} must be 1 to 128 characters of [A-Za-z0-9._:-]`);
    }
    item.requestId = request.requestId;
  }
  if (request.scheduleTime) item.scheduleTime = validateScheduleTime(request.scheduleTime, now, field('schedule_time'));
  return item;
}

/** The schedule time as a canonical timestamp (microseconds, as PostgreSQL keeps it). */
function validateScheduleTime(time: Timestamp, now: number, field: string): string {
  if (time.seconds < MIN_SECONDS || time.seconds > MAX_SECONDS || time.nanos < 0 || time.nanos > 999_999_999) {
    throw new InvalidArgumentError(`${field} is not a valid timestamp`);
  }
  const millis = Number(time.seconds) * 1000 + Math.floor(time.nanos / 1_000_000);
  if (millis > now + MAX_SCHEDULE_AHEAD_MS) {
    throw new InvalidArgumentError(`${field} must be at most 366 days ahead`);
  }
  const wholeSeconds = new Date(Number(time.seconds) * 1000).toISOString().slice(0, 19);
  const micros = String(Math.floor(time.nanos / 1000)).padStart(6, '0');
  return `${wholeSeconds}.${micros}Z`;
}
