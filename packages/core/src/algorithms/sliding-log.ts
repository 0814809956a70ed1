import type { Limit } from "../limit.js";
import type { Algorithm, Charge } from "./types.js";

/**
 * Every charge still inside the window, oldest first, as flat `[time, cost, time, cost, ...]` in
 * `log[from..end)`, plus `total`, the sum of those costs. Charges made in the same millisecond
 * share one entry, so a subject holds at most `limit` entries from charges (each costs at least
 * 1), plus one per settled excess still in the window.
 *
 * States share their array: a charge is appended in place when nothing was appended after `end`
 * yet, where no other state looks, so every state reads exactly what it held when made: a state
 * is never changed (see `append`).
 */
export interface SlidingLogState {
  readonly total: number;
  readonly log: number[];
  readonly from: number;
  readonly end: number;
}

/** The live part of a log at `now`: where it starts in `log` and what it adds up to. */
interface Live {
  from: number;
  used: number;
}

/** Expired entries past this many slots are dropped from a shared array by copying the live ones. */
const COMPACT_AFTER = 64;

/**
 * A charge made at `t` counts while `t + window > now`. Expired entries are always the oldest, so
 * only they are visited: the total is kept, not recomputed. (The Redis script computes the same
 * expressions in the same order, so both give bit-identical doubles.)
 */
function liveAt(state: SlidingLogState | undefined, windowMs: number, now: number): Live {
  if (state === undefined) return { from: 0, used: 0 };
  const { log, end } = state;
  let used = state.total;
  let from = state.from;
  while (from < end && !((log[from] as number) + windowMs > now)) {
    used -= log[from + 1] as number;
    from += 2;
  }
  return { from, used };
}

/** A fresh array holding `log[from..end)`. */
function copied(log: readonly number[], from: number, end: number, total: number): SlidingLogState {
  const next = log.slice(from, end);
  return { total, log: next, from: 0, end: next.length };
}

/**
 * The live entries with `cost` charged at `now` appended (merged into an entry of the same
 * instant). Appending writes past `end` of the shared array, where no state looks, unless a state
 * derived from this one already wrote there: then, as for a merge (which changes an entry older
 * states can see), the live entries are copied first. The common sequence (each state charged
 * once, its successor next) appends in place: O(1) amortised instead of O(limit) per charge.
 */
function append(state: SlidingLogState | undefined, live: Live, cost: number, now: number): SlidingLogState {
  const total = live.used + cost;
  if (state === undefined) return { total, log: cost > 0 ? [now, cost] : [], from: 0, end: cost > 0 ? 2 : 0 };
  const { log, end } = state;
  const { from } = live;
  if (cost === 0) return from === state.from ? state : { total, log, from, end };
  if (end > from && log[end - 2] === now) {
    const next = copied(log, from, end, total);
    next.log[next.end - 1] = (next.log[next.end - 1] as number) + cost;
    return next;
  }
  if (log.length !== end || (from > COMPACT_AFTER && from * 2 > end)) {
    const next = copied(log, from, end, total);
    next.log.push(now, cost);
    return { total, log: next.log, from: 0, end: next.end + 2 };
  }
  log.push(now, cost);
  return { total, log, from, end: end + 2 };
}

/** Milliseconds until `cost` fits once the oldest charges leave the window (absent other traffic). */
function waitFor(state: SlidingLogState, live: Live, limit: Limit, cost: number, now: number): number {
  const { log, end } = state;
  let used = live.used;
  for (let i = live.from; i < end; i += 2) {
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
    // An enforced limit that does not fit is never charged (its `next` is dropped): no append, so
    // a subject hammering its limit costs no copies.
    const next = fits || limit.mode === "monitor" ? append(state, live, cost, now) : append(state, live, 0, now);
    if (fits) return { fits, next, retryAfterMs: 0 };
    if (cost > limit.limit || state === undefined) return { fits, next, retryAfterMs: Number.POSITIVE_INFINITY };
    return { fits, next, retryAfterMs: waitFor(state, live, limit, cost, now) };
  },
  view(state, limit, now) {
    const live = liveAt(state, limit.windowMs, now);
    const oldest = state !== undefined && live.from < state.end ? (state.log[live.from] as number) : undefined;
    return {
      used: live.used,
      remaining: Math.max(0, limit.limit - live.used),
      // When the oldest charge leaves and capacity comes back; nothing to wait for when empty.
      resetMs: oldest === undefined ? 0 : oldest + limit.windowMs - now,
    };
  },
  adjust(state, limit, delta, now, chargedAt) {
    const live = liveAt(state, limit.windowMs, now);
    // Extra units are charged now, as a new entry.
    if (delta >= 0) return append(state, live, delta, now);
    if (state === undefined) return state;
    // A refund takes from the charge it refunds, while that charge is still in the window.
    const { log, end } = state;
    for (let i = end - 2; i >= live.from; i -= 2) {
      if (log[i] !== chargedAt) continue;
      const cost = log[i + 1] as number;
      const taken = Math.min(cost, -delta);
      const next = copied(log, live.from, end, live.used - taken);
      const at = i - live.from;
      if (taken === cost) {
        next.log.splice(at, 2);
        return { total: next.total, log: next.log, from: 0, end: next.end - 2 };
      }
      next.log[at + 1] = cost - taken;
      return next;
    }
    return state;
  },
  release: (state) => state,
  ttlMs(state, limit, now) {
    if (state.end <= state.from) return 0;
    return (state.log[state.end - 2] as number) + limit.windowMs - now;
  },
};
