import { periodBounds } from "../calendar.js";
import type { Limit } from "../limit.js";
import type { Algorithm } from "./types.js";

/** Count within the calendar period (day, week, month in the limit's time zone) that starts at `start`. */
export interface QuotaState {
  start: number;
  count: number;
}

const boundsFor = (limit: Limit, at: number) => periodBounds(at, limit.period ?? "month", limit.timeZone);

/**
 * Calendar quota: a monthly allowance resets at local midnight on the 1st in `timeZone`, whatever
 * the month's length, leap years and DST. Retry-after of a denial is the time to the next period.
 */
export const quota: Algorithm<QuotaState> = {
  charge(state, limit, cost, now) {
    const { start, end } = boundsFor(limit, now);
    const count = state !== undefined && state.start === start ? state.count : 0;
    const fits = count + cost <= limit.limit;
    return {
      fits,
      next: { start, count: count + cost },
      retryAfterMs: fits ? 0 : cost > limit.limit ? Number.POSITIVE_INFINITY : end - now,
    };
  },
  view(state, limit, now) {
    const { start, end } = boundsFor(limit, now);
    const used = state !== undefined && state.start === start ? state.count : 0;
    return { used, remaining: Math.max(0, limit.limit - used), resetMs: end - now };
  },
  adjust(state, limit, delta, now, chargedAt) {
    const { start } = boundsFor(limit, now);
    const count = state !== undefined && state.start === start ? state.count : 0;
    if (delta < 0) {
      if (boundsFor(limit, chargedAt).start !== start || count === 0) return state;
      return { start, count: Math.max(0, count + delta) };
    }
    return { start, count: count + delta };
  },
  release: (state) => state,
  ttlMs: (state, limit, now) => periodBounds(state.start, limit.period ?? "month", limit.timeZone).end - now,
};
