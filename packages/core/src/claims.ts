import type { Clock } from "./clock.js";

/**
 * Keys claimed until they expire: the in-process form of `Store.claimOnce`. Claims are also kept
 * in a FIFO of creation order, so reclaiming looks only at the oldest (with a fixed TTL they expire
 * in that order): iterating a Map from its start instead would walk every deleted entry's hole.
 * A couple of old claims are examined per new claim; `maxClaims` bounds memory whatever the TTLs.
 */
export class ClaimTable {
  private readonly expiries = new Map<string, number>();
  private order: string[] = [];
  private head = 0;

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
    this.reclaim(now);
    // Every key in the map has one place in the FIFO (an expired key not yet reclaimed keeps its own).
    if (!this.expiries.has(key)) this.order.push(key);
    this.expiries.set(key, now + Math.max(1, ttlMs));
    return true;
  }

  private reclaim(now: number) {
    for (let examined = 0; this.head < this.order.length; examined++) {
      const key = this.order[this.head] as string;
      const expiry = this.expiries.get(key);
      const full = this.expiries.size >= this.maxClaims;
      if (!full && examined >= 2) break;
      if (!full && expiry !== undefined && expiry > now) break;
      // Expired, or the oldest claim while full: it goes.
      this.expiries.delete(key);
      this.order[this.head++] = "";
    }
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }

  clear() {
    this.expiries.clear();
    this.order = [];
    this.head = 0;
  }
}
