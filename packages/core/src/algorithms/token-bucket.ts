import { type Algorithm, TIME_EPSILON_MS } from "./types.js";

/** GCRA keeps one number per key: the theoretical arrival time of the next unit. */
export interface TokenBucketState {
  tat: number;
}

/** Milliseconds it takes to refill one unit. */
const emissionInterval = (windowMs: number, limit: number) => windowMs / limit;

/**
 * Tolerance for accumulated floating-point error in the TAT: 10 microseconds, but never as much as
 * half a unit, or a very fast bucket (30M per minute: 2 microseconds per unit) would admit extra units.
 */
const slackFor = (interval: number) => Math.min(TIME_EPSILON_MS, interval / 2);

/**
 * Token bucket as GCRA: refills `limit` units per `window`, holds up to `capacity` (= `burst`).
 * Exact retry-after (the instant the bucket holds `cost`), sub-millisecond precision (times are
 * fractional milliseconds compared within 10 microseconds).
 */
export const tokenBucket: Algorithm<TokenBucketState> = {
  charge(state, limit, cost, now) {
    const interval = emissionInterval(limit.windowMs, limit.limit);
    const tat = state === undefined ? now : Math.max(state.tat, now);
    const nextTat = tat + cost * interval;
    const allowAt = nextTat - limit.capacity * interval;
    const fits = allowAt - now <= slackFor(interval);
    let retryAfterMs = 0;
    if (!fits) retryAfterMs = cost > limit.capacity ? Number.POSITIVE_INFINITY : allowAt - now;
    return { fits, next: { tat: nextTat }, retryAfterMs };
  },
  view(state, limit, now) {
    const interval = emissionInterval(limit.windowMs, limit.limit);
    const debt = state === undefined ? 0 : Math.max(0, state.tat - now);
    const used = Math.max(0, Math.ceil((debt - slackFor(interval)) / interval));
    return { used, remaining: Math.max(0, limit.capacity - used), resetMs: debt };
  },
  adjust(state, limit, delta, now) {
    const interval = emissionInterval(limit.windowMs, limit.limit);
    if (delta >= 0) {
      const tat = state === undefined ? now : Math.max(state.tat, now);
      return { tat: tat + delta * interval };
    }
    if (state === undefined || state.tat <= now) return state; // already full
    return { tat: Math.max(now, state.tat + delta * interval) };
  },
  release: (state) => state,
  ttlMs: (state, _limit, now) => state.tat - now,
};
