/**
 * Calendar periods (day, week, month) in an IANA time zone, without dependencies: Intl gives the
 * wall-clock date of an instant, and a binary search finds the first instant of a local date, which
 * is exact across DST changes (including zones where local midnight is skipped).
 */

export type CalendarPeriod = "day" | "week" | "month";

export interface PeriodBounds {
  /** First millisecond of the period (inclusive). */
  start: number;
  /** First millisecond of the next period (exclusive end). */
  end: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone,
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hourCycle: "h23",
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** True when `timeZone` is a zone this runtime knows (`UTC`, `Europe/Paris`...). */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** A local calendar date as a sortable number: yyyymmdd. */
function localDateKey(ms: number, timeZone: string): number {
  let year = 0;
  let month = 0;
  let day = 0;
  for (const part of formatterFor(timeZone).formatToParts(ms)) {
    if (part.type === "year") year = Number(part.value);
    else if (part.type === "month") month = Number(part.value);
    else if (part.type === "day") day = Number(part.value);
  }
  return year * 10_000 + month * 100 + day;
}

/** First instant whose local date is on or after the given local date. */
function startOfLocalDate(year: number, month: number, day: number, timeZone: string): number {
  // Normalise (day 32 -> next month) through UTC arithmetic, which has no DST.
  const utcMidnight = Date.UTC(year, month - 1, day);
  const normal = new Date(utcMidnight);
  const target = normal.getUTCFullYear() * 10_000 + (normal.getUTCMonth() + 1) * 100 + normal.getUTCDate();
  // Offsets are within +-14 h (plus a DST hour): the instant lies in this bracket.
  let low = utcMidnight - 16 * 3_600_000;
  let high = utcMidnight + 16 * 3_600_000;
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (localDateKey(mid, timeZone) >= target) high = mid;
    else low = mid;
  }
  return high;
}

function localDate(ms: number, timeZone: string): { year: number; month: number; day: number } {
  const key = localDateKey(ms, timeZone);
  return { year: Math.floor(key / 10_000), month: Math.floor(key / 100) % 100, day: key % 100 };
}

function computeBounds(now: number, period: CalendarPeriod, timeZone: string): PeriodBounds {
  const { year, month, day } = localDate(now, timeZone);
  if (period === "day") {
    return {
      start: startOfLocalDate(year, month, day, timeZone),
      end: startOfLocalDate(year, month, day + 1, timeZone),
    };
  }
  if (period === "month") {
    return { start: startOfLocalDate(year, month, 1, timeZone), end: startOfLocalDate(year, month + 1, 1, timeZone) };
  }
  // ISO weeks start on Monday. getUTCDay of the local date (as a UTC date) is its weekday.
  const weekday = new Date(Date.UTC(year, month - 1, day)).getUTCDay(); // 0 = Sunday
  const sinceMonday = (weekday + 6) % 7;
  return {
    start: startOfLocalDate(year, month, day - sinceMonday, timeZone),
    end: startOfLocalDate(year, month, day - sinceMonday + 7, timeZone),
  };
}

// Bounds change at most once a day, so the last answer per (zone, period) serves almost every call.
// Two levels rather than a "zone|period" key: no string is built on the decision path.
const lastBounds = new Map<string, Partial<Record<CalendarPeriod, PeriodBounds>>>();

/**
 * The calendar period containing `now` in `timeZone`: the monthly allowance resets on the 1st
 * at local midnight, not every 30 days.
 *
 * @example periodBounds(Date.UTC(2024, 1, 10), "month", "UTC") // Feb 1 .. Mar 1 2024
 */
export function periodBounds(now: number, period: CalendarPeriod, timeZone = "UTC"): PeriodBounds {
  let byPeriod = lastBounds.get(timeZone);
  const cached = byPeriod?.[period];
  if (cached !== undefined && now >= cached.start && now < cached.end) return cached;
  const bounds = Object.freeze(computeBounds(now, period, timeZone));
  if (byPeriod === undefined) {
    byPeriod = {};
    lastBounds.set(timeZone, byPeriod);
  }
  byPeriod[period] = bounds;
  return bounds;
}
