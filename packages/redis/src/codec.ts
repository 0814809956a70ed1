import { type Limit, type PeriodBounds, periodBounds } from "@tollgate/core";

const ALG_CODES: Record<Limit["algorithm"], string> = {
  "fixed-window": "f",
  "sliding-window": "s",
  "sliding-log": "l",
  "token-bucket": "t",
  quota: "q",
  concurrency: "c",
};

export const algCode = (limit: Limit): string => ALG_CODES[limit.algorithm];

/**
 * A limit's static fields as the rare-path scripts (ADJUST, UNDO) read them with `limitAt`:
 * algorithm code, limit, window (ms), capacity.
 */
export const limitArgs = (limit: Limit): string[] => [
  algCode(limit),
  String(limit.limit),
  String(limit.windowMs),
  String(limit.capacity),
];

interface Around {
  current: PeriodBounds;
  /** start/end of the previous, current and next period. */
  bounds: number[];
  text: string;
}
const around = new Map<string, Around>();

/**
 * The previous, current and next calendar periods around `at`. Lua has no time zones, so the
 * client computes them and the script picks the one holding the store's time: an app clock off by
 * less than a period still yields the right period. Memoised per zone+period until `at` leaves the
 * current one (periodBounds itself is cheap only for its last answer).
 */
function periodsAround(limit: Limit, at: number): Around {
  const period = limit.period ?? "month";
  const cacheKey = `${limit.timeZone}|${period}`;
  const cached = around.get(cacheKey);
  if (cached && at >= cached.current.start && at < cached.current.end) return cached;
  const current = periodBounds(at, period, limit.timeZone);
  const previous = periodBounds(current.start - 1, period, limit.timeZone);
  const next = periodBounds(current.end, period, limit.timeZone);
  const bounds = [previous.start, previous.end, current.start, current.end, next.start, next.end];
  const entry = { current, bounds, text: bounds.join(" ") };
  around.set(cacheKey, entry);
  return entry;
}

/** The periods around `at` as "s1 e1 s2 e2 s3 e3" (ADJUST and UNDO arguments). */
export const quotaBounds = (limit: Limit, at: number): string => periodsAround(limit, at).text;

/** The periods around `at` as six numbers (DECIDE's packed batch). */
export const quotaBoundsList = (limit: Limit, at: number): readonly number[] => periodsAround(limit, at).bounds;

/** Start of the calendar period holding `at` (where a settled quota charge was made). */
export function quotaStart(limit: Limit, at: number): string {
  return String(periodBounds(at, limit.period ?? "month", limit.timeZone).start);
}
