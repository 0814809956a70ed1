import type { Algorithm } from "./types.js";

/** Count within an epoch-aligned window; the reset instant is the same for every subject. */
export interface FixedWindowState {
  /** Start of the window the count belongs to (ms, multiple of the window). */
  start: number;
  count: number;
}

const windowStart = (now: number, windowMs: number) => Math.floor(now / windowMs) * windowMs;

/**
 * Counts units per window aligned to the epoch. Worst case it admits 2 x limit across a window
 * boundary; it never admits more than `limit` inside one window.
 */
export const fixedWindow: Algorithm<FixedWindowState> = {
  charge(state, limit, cost, now) {
    const start = windowStart(now, limit.windowMs);
    const count = state !== undefined && state.start === start ? state.count : 0;
    const fits = count + cost <= limit.limit;
    return {
      fits,
      next: { start, count: count + cost },
      retryAfterMs: fits ? 0 : cost > limit.limit ? Number.POSITIVE_INFINITY : start + limit.windowMs - now,
    };
  },
  view(state, limit, now) {
    const start = windowStart(now, limit.windowMs);
    const used = state !== undefined && state.start === start ? state.count : 0;
    return { used, remaining: Math.max(0, limit.limit - used), resetMs: start + limit.windowMs - now };
  },
  adjust(state, limit, delta, now, chargedAt) {
    const start = windowStart(now, limit.windowMs);
    const count = state !== undefined && state.start === start ? state.count : 0;
    if (delta < 0) {
      // A refund only makes sense in the window that was charged; a past window is gone anyway.
      if (windowStart(chargedAt, limit.windowMs) !== start || count === 0) return state;
      return { start, count: Math.max(0, count + delta) };
    }
    return { start, count: count + delta };
  },
  release: (state) => state,
  ttlMs: (state, limit, now) => state.start + limit.windowMs - now,
};
