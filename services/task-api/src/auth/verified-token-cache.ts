/**
 * Tokens verified a moment ago, so a client that sends the same token on
 * every call pays for its signature check (about 200 µs of CPU for ES256)
 * once, not per call.
 *
 * - The key is the whole token: a signature reused under another payload or
 *   header is another token, verified on its own.
 * - An entry lasts until the token expires exactly as the verifier would
 *   refuse it (`exp` plus the clock skew), and at most LIFETIME_MS.
 * - Every entry goes when the key set withdraws a key (`keySetWithdrawals`
 *   counts up), so a removed key stops working at the first call after the
 *   check that saw it, as without the cache.
 * - Only tokens that verified are remembered: a refused token costs little
 *   to refuse again, and garbage cannot fill the cache.
 * - Bounded: at most `maxEntries` tokens of at most MAX_TOKEN_LENGTH
 *   characters (about 21 MiB at 10,000 such tokens, 4 MiB at 10,000 of
 *   300); when full, the oldest tenth goes.
 */
export interface VerifiedTokenCache {
  /**
   * The tenant of `token`: the one remembered from an earlier verification
   * still in force, or else `verify`'s, remembered for the next call.
   * Whatever `verify` throws passes unchanged and is not remembered.
   */
  tenantOf(token: string, verify: () => Promise<VerifiedToken>): Promise<string>;
  /** Tokens held (tests). */
  readonly size: number;
}

/** What a successful verification found. */
export interface VerifiedToken {
  tenant: string;
  /** The token's `exp` and `nbf` claims (NumericDate: seconds since the epoch). */
  exp: number;
  nbf?: number | undefined;
}

export interface VerifiedTokenCacheSettings {
  maxEntries: number;
  /** The verifier's leeway on `exp`, so an entry ends exactly when the token would be refused. */
  clockSkewSeconds: number;
  /** The key set's count of withdrawn keys (JwksSource.withdrawals); when it changes, every entry goes. */
  keySetWithdrawals: () => number;
  /** Wall-clock milliseconds, the clock the verifier checks `exp` with. */
  now: () => number;
}

/** Longest an entry lasts whatever its `exp`: bounds how long a token stays trusted without a signature check. */
export const LIFETIME_MS = 60_000;

/** Longer tokens are verified on every call (most are well under 2 KiB; this bounds the cache's memory). */
export const MAX_TOKEN_LENGTH = 2 * 1024;

interface Entry {
  tenant: string;
  /** Wall-clock milliseconds from which the entry no longer answers. */
  validUntil: number;
}

export function createVerifiedTokenCache(settings: VerifiedTokenCacheSettings): VerifiedTokenCache {
  const { maxEntries, clockSkewSeconds, keySetWithdrawals, now } = settings;
  // In insertion order, so the first key is the oldest entry.
  const entries = new Map<string, Entry>();
  let withdrawalsSeen: number | null = null;

  /** Drops every entry when a key was withdrawn since the last look; returns the count looked at. */
  const withdrawalsNow = (): number => {
    const withdrawals = keySetWithdrawals();
    if (withdrawals !== withdrawalsSeen) {
      entries.clear();
      withdrawalsSeen = withdrawals;
    }
    return withdrawals;
  };

  // A tenth at a time: a Map keeps deleted entries as holes until it
  // compacts, and every walk from its start steps over them, so evicting
  // one entry per insertion costs about 10 µs with a full cache of 10,000.
  const evictionBatch = Math.max(1, Math.floor(maxEntries / 10));
  const evictOldest = (): void => {
    let evicted = 0;
    for (const token of entries.keys()) {
      entries.delete(token);
      if (++evicted === evictionBatch) break;
    }
  };

  const remember = (token: string, verified: VerifiedToken, at: number): void => {
    if (token.length > MAX_TOKEN_LENGTH) return;
    const atSeconds = Math.floor(at / 1000);
    // Valid only thanks to the clock skew: not remembered, so an earlier clock (or a later nbf check) decides as without the cache.
    if (verified.nbf !== undefined && verified.nbf > atSeconds) return;
    // jose refuses once floor(now / 1000) >= exp + skew, that is from ceil(exp + skew) seconds on.
    const validUntil = Math.min(Math.ceil(verified.exp + clockSkewSeconds) * 1000, at + LIFETIME_MS);
    if (validUntil <= at) return;
    entries.delete(token);
    if (entries.size >= maxEntries) evictOldest();
    entries.set(token, { tenant: verified.tenant, validUntil });
  };

  return {
    async tenantOf(token, verify) {
      const withdrawals = withdrawalsNow();
      const entry = entries.get(token);
      if (entry !== undefined) {
        if (now() < entry.validUntil) return entry.tenant;
        entries.delete(token);
      }
      const verified = await verify();
      // A key withdrawn while the signature was being checked: the answer stands for this call only.
      if (withdrawalsNow() === withdrawals) remember(token, verified, now());
      return verified.tenant;
    },
    get size() {
      return entries.size;
    },
  };
}
