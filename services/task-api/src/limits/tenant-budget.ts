/**
 * A request budget per tenant: a token bucket of `burst` requests that
 * refills at `ratePerSecond`. A tenant idle long enough to have refilled is
 * the same as one never seen, so its bucket is dropped; memory stays
 * proportional to the tenants active in the last refill period however many
 * tenants there are.
 */
export interface TenantBudgetSettings {
  ratePerSecond: number;
  burst: number;
  /** Milliseconds on a monotonic clock (tests inject their own). */
  now?: () => number;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date. */
  at: number;
}

// Idle buckets are looked for at most this often, and at least every refill
// period: each look walks every bucket, so it must not run per request.
const MIN_SWEEP_INTERVAL_MS = 1_000;
const MAX_SWEEP_INTERVAL_MS = 60_000;

export class TenantBudget {
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;
  private readonly refillPerMs: number;
  private readonly sweepIntervalMs: number;
  private sweptAt: number;

  constructor(private readonly settings: TenantBudgetSettings) {
    if (!(settings.ratePerSecond > 0) || !(settings.burst >= 1)) throw new RangeError('a budget needs a rate above 0 and a burst of at least 1');
    this.now = settings.now ?? (() => performance.now());
    this.refillPerMs = settings.ratePerSecond / 1000;
    const fullAfterMs = settings.burst / this.refillPerMs;
    this.sweepIntervalMs = Math.min(MAX_SWEEP_INTERVAL_MS, Math.max(MIN_SWEEP_INTERVAL_MS, fullAfterMs));
    this.sweptAt = this.now();
  }

  /**
   * Takes one request from `tenant`'s budget. Returns 0 when it is granted,
   * or the whole seconds (at least 1) until the bucket holds a request again
   * (a refused request takes nothing).
   */
  take(tenant: string): number {
    const now = this.now();
    if (now - this.sweptAt >= this.sweepIntervalMs) this.dropFullBuckets(now);
    const bucket = this.buckets.get(tenant);
    const tokens = bucket ? this.refilled(bucket, now) : this.settings.burst;
    if (tokens >= 1) {
      this.buckets.set(tenant, { tokens: tokens - 1, at: now });
      return 0;
    }
    this.buckets.set(tenant, { tokens, at: now });
    return Math.max(1, Math.ceil((1 - tokens) / this.refillPerMs / 1000));
  }

  /** Tenants whose buckets are held (for tests and metrics). */
  get trackedTenants(): number {
    return this.buckets.size;
  }

  private refilled(bucket: Bucket, now: number): number {
    return Math.min(this.settings.burst, bucket.tokens + (now - bucket.at) * this.refillPerMs);
  }

  private dropFullBuckets(now: number): void {
    this.sweptAt = now;
    for (const [tenant, bucket] of this.buckets) {
      if (this.refilled(bucket, now) >= this.settings.burst) this.buckets.delete(tenant);
    }
  }
}
