import type { Clock } from "../clock.js";
import { ConfigError } from "../errors.js";
import type { Limit } from "../limit.js";
import { memoryStore } from "../memory-store.js";
import type { DecideItem, Store } from "../store.js";
import type { Prepared } from "./prepare.js";

/**
 * The store that decides `failMode: "local"` limits while the primary is unavailable, each limit
 * at this process's share of it (with N instances, share 1/N keeps an outage near the limit).
 */
export class Fallback {
  #store: Store | undefined;
  readonly #share: number;
  readonly #clock: Clock;
  /** Limits as the fallback enforces them, made once per limit. */
  readonly #scaled = new WeakMap<Limit, Limit>();

  constructor(store: Store | undefined, share: number | undefined, clock: Clock) {
    const value = share ?? 1;
    if (!(typeof value === "number" && value > 0 && value <= 1)) {
      throw new ConfigError([{ path: "fallbackShare", message: "must be a number in (0, 1]" }]);
    }
    this.#store = store;
    this.#share = value;
    this.#clock = clock;
  }

  /** The fallback store; the default one is created at the first outage, so a healthy process never holds one. */
  get store(): Store {
    this.#store ??= memoryStore({ clock: this.#clock });
    return this.#store;
  }

  /**
   * The request the fallback decides: the `local` limits, each at its share; undefined when
   * there are none, or when a `closed` enforced limit denies the request anyway.
   */
  requestFor(prepared: Prepared): Prepared | undefined {
    let local = 0;
    for (const { limit } of prepared.items) {
      if (limit.mode === "enforce" && limit.failMode === "closed") return undefined;
      if (limit.failMode === "local") local++;
    }
    if (local === 0) return undefined;
    const items: DecideItem[] = [];
    for (const item of prepared.items) {
      if (item.limit.failMode === "local") items.push({ ...item, limit: this.#shareOf(item.limit) });
    }
    // The fallback decides an outage on its own: it never waits for the ledger.
    return { ...prepared, items, restore: false };
  }

  /** `share` of a limit, at least 1. */
  #shareOf(limit: Limit): Limit {
    if (this.#share === 1) return limit;
    let local = this.#scaled.get(limit);
    if (local === undefined) {
      local = Object.freeze({
        ...limit,
        limit: Math.max(1, Math.floor(limit.limit * this.#share)),
        capacity: Math.max(1, Math.floor(limit.capacity * this.#share)),
      });
      this.#scaled.set(limit, local);
    }
    return local;
  }
}
