import type { DecideItem, DecideResult, Outcome } from "@tollgate/core";
import { periodBounds } from "@tollgate/core";

export interface DenyCacheOptions {
  /** Denials remembered at most; the oldest go first. Default 10,000. */
  maxEntries?: number;
}

interface Entry {
  /** Store time the denial was decided at, and the first instant it may no longer hold. */
  at: number;
  until: number;
  keys: string[];
  items: readonly DecideItem[];
  outcomes: Outcome[];
}

/** End of the window holding `now` for the algorithms the cache serves. */
function windowEnd(item: DecideItem, now: number): number {
  const { limit } = item;
  if (limit.algorithm === "quota") return periodBounds(now, limit.period ?? "month", limit.timeZone).end;
  return Math.floor(now / limit.windowMs) * limit.windowMs + limit.windowMs;
}

/**
 * Remembers denied decisions so a client hammering a limit is answered without a round trip until
 * the denial can end. Only decisions whose limits are all fixed-window or quota qualify: their
 * counts cannot fall inside a window (except by a refund, which drops the entry when it goes
 * through this store), so the remembered figures stay the reference's until the window ends, and
 * the answer is recomputed at the new instant (reset and retry-after count down). Token buckets,
 * sliding windows and leases recover continuously and always ask Redis.
 *
 * An entry is keyed by the decision's keys and costs; any charge, settle, release or reset of one
 * of its keys through this store drops it. A refund made by another process is not seen: such a
 * subject can stay denied locally until its window ends, never longer.
 */
export class DenyCache {
  private readonly entries = new Map<string, Entry>();
  private readonly byKey = new Map<string, Set<string>>();
  private readonly maxEntries: number;
  hits = 0;

  constructor(options: DenyCacheOptions = {}) {
    this.maxEntries = Math.max(1, options.maxEntries ?? 10_000);
  }

  /** Only all-window-aligned decisions that charge can be cached. */
  static eligible(items: readonly DecideItem[], charge: boolean): boolean {
    if (!charge || items.length === 0) return false;
    for (const { limit } of items) {
      if (limit.algorithm !== "fixed-window" && limit.algorithm !== "quota") return false;
    }
    return true;
  }

  static signature(keys: readonly string[], items: readonly DecideItem[]): string {
    let text = "";
    for (let i = 0; i < keys.length; i++) text += `${keys[i]}\u0000${(items[i] as DecideItem).cost}\u0000`;
    return text;
  }

  /** The remembered denial, recomputed at store time `now`, or undefined. */
  lookup(signature: string, now: number): DecideResult | undefined {
    const entry = this.entries.get(signature);
    if (entry === undefined) return undefined;
    if (now < entry.at || now >= entry.until) {
      if (now >= entry.until) this.remove(signature);
      return undefined;
    }
    this.hits++;
    const outcomes = entry.outcomes.map((outcome, i) => {
      const item = entry.items[i] as DecideItem;
      const resetMs = windowEnd(item, now) - now;
      const retryAfterMs = outcome.fits
        ? 0
        : outcome.retryAfterMs === Number.POSITIVE_INFINITY
          ? outcome.retryAfterMs
          : resetMs;
      return { ...outcome, crossed: false, resetMs, retryAfterMs };
    });
    return { now, charged: false, outcomes };
  }

  remember(signature: string, keys: string[], items: readonly DecideItem[], result: DecideResult): void {
    let until = Number.POSITIVE_INFINITY;
    for (const item of items) until = Math.min(until, windowEnd(item, result.now));
    if (this.entries.size >= this.maxEntries) this.evict(result.now);
    this.remove(signature);
    this.entries.set(signature, { at: result.now, until, keys, items, outcomes: result.outcomes });
    for (const key of keys) {
      let set = this.byKey.get(key);
      if (set === undefined) {
        set = new Set();
        this.byKey.set(key, set);
      }
      set.add(signature);
    }
  }

  /** Drops every denial involving one of these keys (their counters just changed). */
  invalidate(keys: readonly string[]): void {
    if (this.entries.size === 0) return;
    for (const key of keys) {
      const set = this.byKey.get(key);
      if (set === undefined) continue;
      for (const signature of [...set]) this.remove(signature);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  private remove(signature: string): void {
    const entry = this.entries.get(signature);
    if (entry === undefined) return;
    this.entries.delete(signature);
    for (const key of entry.keys) {
      const set = this.byKey.get(key);
      set?.delete(signature);
      if (set?.size === 0) this.byKey.delete(key);
    }
  }

  /** Sweeps a few expired entries, else drops the oldest. */
  private evict(now: number): void {
    let examined = 0;
    for (const [signature, entry] of this.entries) {
      if (examined++ >= 64) break;
      if (now >= entry.until) this.remove(signature);
    }
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.remove(oldest.value);
    }
  }
}
