import type { Algorithm, Charge } from "./types.js";

/** Counts of the current window and the one before it; the estimate weights the previous by its overlap. */
export interface SlidingWindowState {
  start: number;
  current: number;
  previous: number;
}

interface Counts {
  start: number;
  current: number;
  previous: number;
  elapsed: number;
}

function countsAt(state: SlidingWindowState | undefined, windowMs: number, now: number): Counts {
  const start = Math.floor(now / windowMs) * windowMs;
  const elapsed = now - start;
  if (state === undefined) return { start, current: 0, previous: 0, elapsed };
  if (state.start === start) return { start, current: state.current, previous: state.previous, elapsed };
  if (state.start === start - windowMs) return { start, current: 0, previous: state.current, elapsed };
  return { start, current: 0, previous: 0, elapsed };
}

/**
 * The two-window estimate: previous x (remaining overlap) + current. The evaluation order of this
 * expression is part of the contract: the Redis script computes it in the same order so both give
 * bit-identical doubles.
 */
function estimate(c: Counts, windowMs: number): number {
  return (c.previous * (windowMs - c.elapsed)) / windowMs + c.current;
}

function fitsAt(state: SlidingWindowState | undefined, limit: number, windowMs: number, cost: number, at: number) {
  return estimate(countsAt(state, windowMs, at), windowMs) + cost <= limit;
}

/**
 * Sliding-window counter (two-window weighted approximation). It assumes the previous window's
 * traffic was spread evenly. Error bound: inside any aligned window it never admits more than
 * `limit`; over an arbitrary rolling interval of one window it can admit up to 2 x limit in the
 * worst case (previous window's traffic bunched at its very end), and the benchmark measures the
 * typical over-admission against an exact sliding log (docs/benchmarks.md).
 */
export const slidingWindow: Algorithm<SlidingWindowState> = {
  charge(state, limit, cost, now): Charge<SlidingWindowState> {
    const w = limit.windowMs;
    const c = countsAt(state, w, now);
    const fits = estimate(c, w) + cost <= limit.limit;
    const next = { start: c.start, current: c.current + cost, previous: c.previous };
    if (fits) return { fits, next, retryAfterMs: 0 };
    if (cost > limit.limit) return { fits, next, retryAfterMs: Number.POSITIVE_INFINITY };
    // Solve for the first instant the estimate leaves room for `cost`.
    let wait: number;
    if (c.current + cost <= limit.limit) {
      // Within this window, as the previous window's weight decays.
      wait = w - c.elapsed - ((limit.limit - c.current - cost) * w) / c.previous;
    } else {
      // In the next window, as this window's count (then "previous") decays.
      wait = w - c.elapsed + (w - ((limit.limit - cost) * w) / c.current);
    }
    let retryAfterMs = Math.max(1, Math.ceil(wait));
    // Rounding can land a hair early; step forward until the answer is truthful.
    while (!fitsAt(state, limit.limit, w, cost, now + retryAfterMs)) retryAfterMs += 1;
    return { fits, next, retryAfterMs };
  },
  view(state, limit, now) {
    const c = countsAt(state, limit.windowMs, now);
    // max(0, ..): ceil of a hair below zero is -0, which must read as 0 (and does in Lua too).
    const used = Math.max(0, Math.ceil(estimate(c, limit.windowMs) - 1e-9));
    return { used, remaining: Math.max(0, limit.limit - used), resetMs: c.start + limit.windowMs - now };
  },
  adjust(state, limit, delta, now, chargedAt) {
    const w = limit.windowMs;
    const c = countsAt(state, w, now);
    const chargedStart = Math.floor(chargedAt / w) * w;
    if (delta >= 0) return { start: c.start, current: c.current + delta, previous: c.previous };
    if (chargedStart === c.start) {
      return { start: c.start, current: Math.max(0, c.current + delta), previous: c.previous };
    }
    if (chargedStart === c.start - w) {
      return { start: c.start, current: c.current, previous: Math.max(0, c.previous + delta) };
    }
    return state;
  },
  release: (state) => state,
  ttlMs: (state, limit, now) => state.start + 2 * limit.windowMs - now,
};
