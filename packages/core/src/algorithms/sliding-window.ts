import type { Algorithm, Charge } from "./types.js";

/**
 * Counts of the current and previous windows, plus when each window's most recent charge
 * happened. The times let the estimate drop the previous window entirely once its last request
 * is a full window old (the plain approximation would keep weighting it).
 */
export interface SlidingWindowState {
  start: number;
  current: number;
  previous: number;
  /** Time of the most recent charge in the current window (0 if none). */
  last: number;
  /** Time of the most recent charge in the previous window (0 if none). */
  previousLast: number;
}

interface Counts extends SlidingWindowState {
  elapsed: number;
}

function countsAt(state: SlidingWindowState | undefined, windowMs: number, now: number): Counts {
  const start = Math.floor(now / windowMs) * windowMs;
  const elapsed = now - start;
  if (state !== undefined && state.start === start) {
    const { current, previous, last, previousLast } = state;
    return { start, current, previous, last, previousLast, elapsed };
  }
  if (state !== undefined && state.start === start - windowMs) {
    return { start, current: 0, previous: state.current, last: 0, previousLast: state.last, elapsed };
  }
  return { start, current: 0, previous: 0, last: 0, previousLast: 0, elapsed };
}

/**
 * The two-window estimate: previous x (remaining overlap) + current, where the previous window
 * counts for nothing once its last request is a window old. The evaluation order of this
 * expression is part of the contract: the Redis script computes it in the same order so both give
 * bit-identical doubles.
 */
function estimate(c: Counts, windowMs: number, now: number): number {
  if (now - windowMs >= c.previousLast) return c.current;
  return (c.previous * (windowMs - c.elapsed)) / windowMs + c.current;
}

function fitsAt(state: SlidingWindowState | undefined, limit: number, windowMs: number, cost: number, at: number) {
  return estimate(countsAt(state, windowMs, at), windowMs, at) + cost <= limit;
}

/** Milliseconds until `cost` fits, absent other traffic; `c` does not fit it now and cost <= limit. */
function waitFor(c: Counts, limit: number, w: number, cost: number, now: number): number {
  if (c.current + cost <= limit) {
    // Within this window: the previous window's weight decays, or it drops out a window after its last request.
    const decayed = w - c.elapsed - ((limit - c.current - cost) * w) / c.previous;
    return Math.min(decayed, c.previousLast + w - now);
  }
  // In the next window, where this window's count is "previous": it decays, or drops out entirely
  // once this window's last request is a window old. Hence never more than one window.
  const decayed = w - ((limit - cost) * w) / c.current;
  return w - c.elapsed + Math.min(decayed, c.last - c.start);
}

/**
 * Sliding-window counter: the two-window weighted approximation, refined with the time of each
 * window's last request. It assumes the previous window's traffic was spread evenly, until that
 * window's last request is a window old, when it stops counting. Bounds: inside any aligned window
 * it never admits more than `limit`; over an arbitrary rolling interval of one window it can admit
 * up to 2 x limit in the worst case; Retry-After never exceeds one window. The benchmark measures
 * the typical error against an exact sliding log (docs/benchmarks.md).
 */
export const slidingWindow: Algorithm<SlidingWindowState> = {
  charge(state, limit, cost, now): Charge<SlidingWindowState> {
    const w = limit.windowMs;
    const c = countsAt(state, w, now);
    const fits = estimate(c, w, now) + cost <= limit.limit;
    const next = {
      start: c.start,
      current: c.current + cost,
      previous: c.previous,
      last: cost > 0 ? now : c.last,
      previousLast: c.previousLast,
    };
    if (fits) return { fits, next, retryAfterMs: 0 };
    if (cost > limit.limit) return { fits, next, retryAfterMs: Number.POSITIVE_INFINITY };
    let retryAfterMs = Math.max(1, Math.ceil(waitFor(c, limit.limit, w, cost, now)));
    // Rounding can land a hair early; step forward until the answer is truthful.
    while (!fitsAt(state, limit.limit, w, cost, now + retryAfterMs)) retryAfterMs += 1;
    return { fits, next, retryAfterMs };
  },
  view(state, limit, now) {
    const c = countsAt(state, limit.windowMs, now);
    // max(0, ..): ceil of a hair below zero is -0, which must read as 0 (and does in Lua too).
    const used = Math.max(0, Math.ceil(estimate(c, limit.windowMs, now) - 1e-9));
    return { used, remaining: Math.max(0, limit.limit - used), resetMs: c.start + limit.windowMs - now };
  },
  adjust(state, limit, delta, now, chargedAt) {
    const w = limit.windowMs;
    const c = countsAt(state, w, now);
    const chargedStart = Math.floor(chargedAt / w) * w;
    const { start, current, previous, last, previousLast } = c;
    // Extra units are charged now, so they count as this window's latest request.
    if (delta >= 0) return { start, current: current + delta, previous, last: Math.max(last, now), previousLast };
    if (chargedStart === start) return { start, current: Math.max(0, current + delta), previous, last, previousLast };
    if (chargedStart === start - w) {
      return { start, current, previous: Math.max(0, previous + delta), last, previousLast };
    }
    return state;
  },
  release: (state) => state,
  ttlMs: (state, limit, now) => state.start + 2 * limit.windowMs - now,
};
