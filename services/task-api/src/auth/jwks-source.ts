import { readFile, stat } from 'node:fs/promises';
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey, type LocalJWKSet } from 'jose';
import { UnavailableError, type Logger } from '@taskproc/core';

/**
 * The public keys tokens are verified against, kept fresh without a
 * restart: they are checked again every `refreshMs` (in the background,
 * while the keys in hand keep serving), and at once when a token names a
 * key they do not hold, so a token signed by a rotated-in key is accepted
 * on its first use. That immediate check runs at most once per
 * UNKNOWN_KEY_RECHECK_MS, so tokens naming made-up keys cannot turn every
 * request into a file read or a fetch from the identity provider.
 *
 * When a check fails (the file is half-edited, the provider is down) the
 * keys in hand stay in use; only with none at all is the answer
 * UNAVAILABLE (the caller's token may be fine, the server cannot tell yet).
 */
export interface JwksSource {
  /** The key for a token (jose's key resolver); throws UnavailableError when no keys could be loaded. */
  getKey: JWTVerifyGetKey;
  /** Loads the keys now; throws when they cannot be loaded (used at start). */
  load(): Promise<void>;
  /**
   * Counts the loads that withdrew a key: one taken out of the set, or
   * changed under its kid. A token verified before such a load may no
   * longer verify; keys only added change nothing. Like getKey, it starts
   * the periodic check when one is due, so a caller that skips getKey for a
   * token it verified before (the verified-token cache) keeps the keys as
   * fresh as one that does not.
   */
  withdrawals(): number;
}

export const UNKNOWN_KEY_RECHECK_MS = 1_000;

/** Where a key set comes from: `read` returns it, or null when it has not changed since the last read. */
export interface KeySetOrigin {
  /** Names the origin in logs, e.g. "file /etc/taskproc/jwks.json". */
  description: string;
  read(): Promise<JSONWebKeySet | null>;
}

export interface JwksSourceSettings {
  refreshMs: number;
  logger: Logger;
  /** Milliseconds on a monotonic clock (tests inject their own). */
  now?: () => number;
}

export function createJwksSource(origin: KeySetOrigin, settings: JwksSourceSettings): JwksSource {
  const { refreshMs, logger } = settings;
  const now = settings.now ?? (() => performance.now());
  let keys: LocalJWKSet | null = null;
  let held = new Set<string>(); // the keys in hand, each as its JSON
  let withdrawals = 0;
  let checkedAt = Number.NEGATIVE_INFINITY;
  let pending: Promise<void> | null = null;

  /** One check at a time; every caller waiting meanwhile shares its outcome. */
  const check = (): Promise<void> => {
    pending ??= (async () => {
      try {
        const set = await origin.read();
        if (set) {
          const next = new Set(set.keys.map((key) => JSON.stringify(key)));
          if ([...held].some((key) => !next.has(key))) withdrawals += 1;
          keys = createLocalJWKSet(set);
          held = next;
          logger.info({ jwks: origin.description, keys: set.keys.length }, 'token signing keys loaded');
        }
      } catch (error) {
        logger.warn({ jwks: origin.description, err: error, keptKeys: keys !== null }, 'token signing keys could not be loaded');
        throw error;
      } finally {
        checkedAt = now();
        pending = null;
      }
    })();
    return pending;
  };

  const unavailable = (cause?: unknown) =>
    new UnavailableError('the keys that verify tokens cannot be loaded right now; try again later', { cause });

  const checkIfDue = () => {
    if (now() - checkedAt >= refreshMs) void check().catch(() => {}); // logged in check; the keys in hand serve meanwhile
  };

  const getKey: JWTVerifyGetKey = async (header, token) => {
    if (!keys) {
      // A failed check is not repeated for every request that arrives right after it.
      if (!pending && now() - checkedAt < UNKNOWN_KEY_RECHECK_MS) throw unavailable();
      await check().catch((error: unknown) => {
        throw unavailable(error);
      });
    } else {
      checkIfDue();
    }
    try {
      return await keys!(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      if (!pending && now() - checkedAt < UNKNOWN_KEY_RECHECK_MS) throw error;
      await check().catch((cause: unknown) => {
        // The key may well be in the set that could not be read.
        throw unavailable(cause);
      });
      return keys!(header, token);
    }
  };

  return {
    getKey,
    load: check,
    withdrawals() {
      if (keys) checkIfDue();
      return withdrawals;
    },
  };
}

/** A JWKS in a file, read again when it changes (its inode, size or mtime; writers replace it by renaming). */
export function jwksFileOrigin(path: string): KeySetOrigin {
  let seen: string | null = null;
  return {
    description: `file ${path}`,
    async read() {
      const info = await stat(path);
      const version = `${info.ino}:${info.size}:${info.mtimeMs}`;
      if (version === seen) return null;
      const set = parseKeySet(await readFile(path, 'utf8'), path);
      seen = version;
      return set;
    },
  };
}

/** A JWKS served by an identity provider; each read fetches it, bounded by `timeoutMs`. */
export function jwksUrlOrigin(url: string, timeoutMs: number): KeySetOrigin {
  return {
    description: `url ${url}`,
    async read() {
      const response = await fetch(url, {
        headers: { accept: 'application/jwk-set+json, application/json' },
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (response.status !== 200) {
        await response.body?.cancel();
        throw new Error(`${url} answered HTTP ${response.status}`);
      }
      return parseKeySet(await response.text(), url);
    },
  };
}

function parseKeySet(text: string, where: string): JSONWebKeySet {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new Error(`${where} is not JSON`, { cause });
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || !keys.every((key) => typeof key === 'object' && key !== null)) {
    throw new Error(`${where} is not a JSON Web Key Set (an object with a "keys" array of keys)`);
  }
  return parsed as JSONWebKeySet;
}
