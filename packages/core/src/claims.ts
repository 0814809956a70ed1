import type { Clock } from "./clock.js";

/**
 * Keys claimed until they expire: the in-process form of `Store.claimOnce`. Expired claims are
 * reclaimed a couple at a time on each new claim (insertion order is nearly expiry order for a
 * fixed TTL), and `maxClaims` bounds memory whatever the TTLs: past it, the oldest claim goes.
 */
export class ClaimTable {
  private readonly expiries = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    private readonly maxClaims = 100_000,
  ) {}

  get size(): number {
    return this.expiries.size;
  }

  claim(key: string, ttlMs: number): boolean {
    const now = this.clock.now();
    const expiry = this.expiries.get(key);
    if (expiry !== undefined && expiry > now) return false;
    if (expiry !== undefined) this.expiries.delete(key);
    this.reclaim(now);
    this.expiries.set(key, now + Math.max(1, ttlMs));
    return true;
  }

  private reclaim(now: number) {
    let examined = 0;
    for (const [key, expiry] of this.expiries) {
      if (expiry <= now) this.expiries.delete(key);
      else if (this.expiries.size < this.maxClaims) break;
      else this.expiries.delete(key);
      if (++examined >= 2 && this.expiries.size < this.maxClaims) break;
    }
  }

  clear() {
    this.expiries.clear();
  }
}
