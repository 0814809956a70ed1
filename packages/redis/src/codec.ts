import { type Limit, type Outcome, type PeriodBounds, periodBounds } from "@tollgate/core";

const ALG_CODES: Record<Limit["algorithm"], string> = {
  "fixed-window": "f",
  "sliding-window": "s",
  "token-bucket": "t",
  quota: "q",
  concurrency: "c",
};

export const algCode = (limit: Limit): string => ALG_CODES[limit.algorithm];

interface Around {
  current: PeriodBounds;
  text: string;
}
const around = new Map<string, Around>();

/**
 * The previous, current and next calendar periods around `at` as "s1 e1 s2 e2 s3 e3". Lua has no
 * time zones, so the client computes them and the script picks the one holding the store's time:
 * an app clock off by less than a period still yields the right period. Memoised per zone+period
 * until `at` leaves the current one (periodBounds itself is cheap only for its last answer).
 */
export function quotaBounds(limit: Limit, at: number): string {
  const period = limit.period ?? "month";
  const cacheKey = `${limit.timeZone}|${period}`;
  const cached = around.get(cacheKey);
  if (cached && at >= cached.current.start && at < cached.current.end) return cached.text;
  const current = periodBounds(at, period, limit.timeZone);
  const previous = periodBounds(current.start - 1, period, limit.timeZone);
  const next = periodBounds(current.end, period, limit.timeZone);
  const text = [previous.start, previous.end, current.start, current.end, next.start, next.end].join(" ");
  around.set(cacheKey, { current, text });
  return text;
}

/** Start of the calendar period holding `at` (where a settled quota charge was made). */
export function quotaStart(limit: Limit, at: number): string {
  return String(periodBounds(at, limit.period ?? "month", limit.timeZone).start);
}

/** Lua formats doubles with %.17g: exact, with `inf` for Infinity. -0 reads as 0. */
export function num(text: unknown): number {
  const s = String(text);
  if (s === "inf") return Number.POSITIVE_INFINITY;
  if (s === "-inf") return Number.NEGATIVE_INFINITY;
  const n = Number(s);
  return n === 0 ? 0 : n;
}

/** Reads one item's six outcome values starting at `at`. */
export function readOutcome(reply: unknown[], at: number): Outcome {
  const fits = reply[at] === "1";
  return {
    fits,
    exceeded: !fits,
    crossed: reply[at + 1] === "1",
    used: num(reply[at + 2]),
    remaining: num(reply[at + 3]),
    resetMs: num(reply[at + 4]),
    retryAfterMs: num(reply[at + 5]),
  };
}
