import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { InvalidArgumentError, TASK_STATUSES, type ListPosition, type TaskStatusName } from '@taskproc/core';

// A ListTasks page token: where the next page starts, and the tenant and
// filter it was issued for, authenticated with an HMAC so a client can
// neither forge a position nor reuse a token with another filter, nor hand
// it to another tenant (whose listing it would otherwise page from a
// position in someone else's tasks).
//
// Layout (base64url, no padding), 42 bytes before encoding:
//   [0]      version (2)
//   [1]      status filter: 0 none, else 1 + index in TASK_STATUSES
//   [2..9]   created_at of the last task, microseconds since the epoch (int64 BE)
//   [10..25] id of the last task (16 bytes)
//   [26..41] HMAC-SHA256(key, "taskproc.ListTasks.v2" || length of tenant (1 byte) || tenant (UTF-8)
//            || bytes 0..25), first 16 bytes
// The tenant is in the tag only, never in the token: the caller's own
// tenant must reproduce it. The token is opaque to clients (AIP-158): its
// form may change (version 1 tokens, from before tenants, are refused).

const VERSION = 2;
const PAYLOAD_BYTES = 26;
const TAG_BYTES = 16;
const TOKEN_BYTES = PAYLOAD_BYTES + TAG_BYTES;
const CONTEXT = Buffer.from('taskproc.ListTasks.v2');

/** What a token is issued for, and checked against: the caller's tenant and the status filter. */
export interface PageTokenScope {
  tenant: string;
  status: TaskStatusName | null;
}

export interface PageTokenContents extends PageTokenScope {
  position: ListPosition;
}

export class PageTokenCodec {
  private readonly key: Buffer;

  /** `secret` null: a random key, valid for this process only. */
  constructor(secret: string | null) {
    this.key = secret === null ? randomBytes(32) : Buffer.from(secret, 'utf8');
  }

  encode({ tenant, status, position }: PageTokenContents): string {
    const payload = Buffer.alloc(PAYLOAD_BYTES);
    payload[0] = VERSION;
    payload[1] = status === null ? 0 : TASK_STATUSES.indexOf(status) + 1;
    payload.writeBigInt64BE(toMicros(position.createdAt), 2);
    Buffer.from(position.id.replaceAll('-', ''), 'hex').copy(payload, 10);
    return Buffer.concat([payload, this.tag(tenant, payload)]).toString('base64url');
  }

  /**
   * The position of a token this service issued for this tenant and filter.
   * Throws InvalidArgumentError naming page_token when the token is
   * malformed, altered, signed with another key, issued to another tenant
   * (the same answer as a forged token: it says nothing of that tenant), or
   * issued for another filter.
   */
  decode(token: string, { tenant, status }: PageTokenScope): ListPosition {
    const bytes = /^[A-Za-z0-9_-]+$/.test(token) ? Buffer.from(token, 'base64url') : Buffer.alloc(0);
    if (bytes.length !== TOKEN_BYTES || bytes.toString('base64url') !== token) throw invalid();
    const payload = bytes.subarray(0, PAYLOAD_BYTES);
    if (!timingSafeEqual(bytes.subarray(PAYLOAD_BYTES), this.tag(tenant, payload)) || payload[0] !== VERSION) throw invalid();
    const filter = payload[1]!;
    const issuedFor = filter === 0 ? null : TASK_STATUSES[filter - 1];
    if (issuedFor === undefined) throw invalid();
    if (issuedFor !== status) {
      throw new InvalidArgumentError('page_token was issued for another status filter; list again from the first page');
    }
    const hex = payload.subarray(10, 26).toString('hex');
    const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    return { createdAt: fromMicros(payload.readBigInt64BE(2)), id };
  }

  private tag(tenant: string, payload: Buffer): Buffer {
    const name = Buffer.from(tenant, 'utf8');
    // Tenant names are at most 128 characters of ASCII (TENANT_PATTERN): one length byte holds them.
    if (name.length > 255) throw new Error('tenant name too long for a page token');
    return createHmac('sha256', this.key).update(CONTEXT).update(Buffer.of(name.length)).update(name).update(payload).digest().subarray(0, TAG_BYTES);
  }
}

function invalid(): InvalidArgumentError {
  return new InvalidArgumentError('page_token is not a token this service issued');
}

/** "2024-10-28T08:04:08.990161Z" -> microseconds since the epoch. */
function toMicros(canonical: string): bigint {
  return BigInt(Date.parse(`${canonical.slice(0, 19)}Z`)) * 1000n + BigInt(canonical.slice(20, 26));
}

function fromMicros(micros: bigint): string {
  const seconds = micros / 1_000_000n - (micros % 1_000_000n < 0n ? 1n : 0n);
  const fraction = micros - seconds * 1_000_000n;
  const whole = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${whole}.${fraction.toString().padStart(6, '0')}Z`;
}
