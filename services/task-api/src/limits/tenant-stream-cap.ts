/**
 * Watch streams each tenant holds open at once, capped at `max` (0: no cap
 * per tenant). A tenant's count leaves the map when it falls to zero, so the
 * map holds only tenants that are watching.
 */
export class TenantStreamCap {
  private readonly open = new Map<string, number>();

  constructor(private readonly max: number) {}

  /**
   * A slot for one more stream of `tenant`, or null when it holds `max`.
   * The returned release may be called any number of times; the first frees the slot.
   */
  acquire(tenant: string): (() => void) | null {
    const held = this.open.get(tenant) ?? 0;
    if (this.max > 0 && held >= this.max) return null;
    this.open.set(tenant, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(tenant) ?? 1) - 1;
      if (left > 0) this.open.set(tenant, left);
      else this.open.delete(tenant);
    };
  }

  /** Streams `tenant` holds now. */
  held(tenant: string): number {
    return this.open.get(tenant) ?? 0;
  }

  /** Tenants holding at least one stream. */
  get trackedTenants(): number {
    return this.open.size;
  }
}
