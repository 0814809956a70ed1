import type { Limit } from "../limit.js";
import type { Algorithm, Charge } from "./types.js";

/**
 * Every charge still inside the window, oldest first, as flat `[time, cost, time, cost, ...]`,
 * plus `total`, the sum of every cost held. Charges made in the same millisecond share one entry,
 * so a subject holds at most `limit` entries from charges (each costs at least 1), plus one per
 * settled excess still in the window.
 */
export interface SlidingLogState {
  readonly total: number;
  readonly log: readonly number[];
}

/** The live part of a log at `now`: where it starts in `log` and what it adds up to. */
interface Live {
  from: number;
  used: number;
}

/**
 * A charge made at `t` counts while `t + window > now`. Expired entries are always the oldest, so
 * only they are visited: the total is kept, not recomputed. (The Redis script computes the same
 * expressions in the same order, so both give bit-identical doubles.)
 */
function liveAt(state: SlidingLogState | undefined, windowMs: number, now: number): Live {
  if (state === undefined) return { from: 0, used: 0 };
  const { log } = state;
  let used = state.total;
  let from = 0;
  while (from < log.length && !((log[from] as number) + windowMs > now)) {
    used -= log[from + 1] as number;
    from += 2;
  }
  return { from, used };
}

/** The live entries with `cost` charged at `now` appended (merged into an entry of the same instant). */
function append(log: readonly number[], from: number, used: number, cost: number, now: number): SlidingLogState {
  const next = log.slice(from);
  if (cost > 0) {
    const n = next.length;
    if (n > 0 && next[n - 2] === now) next[n - 1] = (next[n - 1] as number) + cost;
    else next.push(now, cost);
  }
  return { total: used + cost, log: next };
}

/** Milliseconds until `cost` fits once the oldest charges leave the window (absent other traffic). */
function waitFor(state: SlidingLogState, live: Live, limit: Limit, cost: number, now: number): number {
  const { log } = state;
  let used = live.used;
  for (let i = live.from; i < log.length; i += 2) {
    used -= log[i + 1] as number;
    if (used + cost <= limit.limit) return (log[i] as number) + limit.windowMs - now;
  }
  return 0; // unreachable when cost <= limit: once every charge has left, used is 0
}

/**
 * Sliding log: an exact rolling window. It keeps the time and cost of every charge inside the
 * window, so at most `limit` units are ever admitted in any interval one window long, and a denial's
 * Retry-After is exactly when enough of the oldest charges leave the window. Memory is O(limit)
 * per subject, so limits are capped at 10,000; use `sliding-window` above that.
 */
export const slidingLog: Algorithm<SlidingLogState> = {
  charge(state, limit, cost, now): Charge<SlidingLogState> {
    const live = liveAt(state, limit.windowMs, now);
    const fits = live.used + cost <= limit.limit;
    const next = append(state?.log ?? [], live.from, live.used, cost, now);
    if (fits) return { fits, next, retryAfterMs: 0 };
    if (cost > limit.limit || state === undefined) return { fits, next, retryAfterMs: Number.POSITIVE_INFINITY };
    return { fits, next, retryAfterMs: waitFor(state, live, limit, cost, now) };
  },
  view(state, limit, now) {
    const live = liveAt(state, limit.windowMs, now);
    const oldest = state?.log[live.from];
    return {
      used: live.used,
      remaining: Math.max(0, limit.limit - live.used),
      // When the oldest charge leaves and capacity comes back; nothing to wait for when empty.
      resetMs: oldest === undefined ? 0 : oldest + limit.windowMs - now,
    };
  },
  adjust(state, limit, delta, now, chargedAt) {
    const live = liveAt(state, limit.windowMs, now);
    const log = state?.log ?? [];
    // Extra units are charged now, as a new entry.
    if (delta >= 0) return append(log, live.from, live.used, delta, now);
    // A refund takes from the charge it refunds, while that charge is still in the window.
    for (let i = log.length - 2; i >= live.from; i -= 2) {
      if (log[i] !== chargedAt) continue;
      const cost = log[i + 1] as number;
      const taken = Math.min(cost, -delta);
      const next = log.slice(live.from);
      const at = i - live.from;
      if (taken === cost) next.splice(at, 2);
      else next[at + 1] = cost - taken;
      return { total: live.used - taken, log: next };
    }
    return state;
  },
  release: (state) => state,
  ttlMs(state, limit, now) {
    const newest = state.log[state.log.length - 2];
    return newest === undefined ? 0 : newest + limit.windowMs - now;
  },
};
