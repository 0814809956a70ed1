import { type Limit, periodBounds } from "@tollgate/core";
import { LIMIT, PERIODS, type RecordWriter } from "./wire.js";

const ALGORITHM_CODES: Record<Limit["algorithm"], string> = {
  "fixed-window": "f",
  "sliding-window": "s",
  "sliding-log": "l",
  "token-bucket": "t",
  quota: "q",
  concurrency: "c",
};

const limits = new WeakMap<Limit, Buffer>();

/**
 * A limit's LIMIT record, packed once per limit: the same bytes for every decision (core keeps
 * one Limit object per configured limit).
 */
export function limitRecord(limit: Limit): Buffer {
  let bytes = limits.get(limit);
  if (bytes === undefined) {
    bytes = Buffer.alloc(LIMIT.fixedSize);
    LIMIT.write(bytes, 0, {
      algorithm: ALGORITHM_CODES[limit.algorithm],
      limit: limit.limit,
      windowMs: limit.windowMs,
      capacity: limit.capacity,
      monitor: limit.mode === "monitor" ? 1 : 0,
    });
    limits.set(limit, bytes);
  }
  return bytes;
}

interface Around {
  current: { start: number; end: number };
  record: Buffer;
}
const around = new Map<string, Around>();

/**
 * A quota's PERIODS record: the previous, current and next calendar periods around `at`. Lua has
 * no time zones, so the client computes them and the script picks the one holding the store's
 * time: an app clock off by less than a period still yields the right period. Memoised per
 * zone+period until `at` leaves the current one (periodBounds itself is cheap only for its last
 * answer).
 */
export function periodsRecord(limit: Limit, at: number): Buffer {
  const period = limit.period ?? "month";
  const cacheKey = `${limit.timeZone}|${period}`;
  const cached = around.get(cacheKey);
  if (cached && at >= cached.current.start && at < cached.current.end) return cached.record;
  const current = periodBounds(at, period, limit.timeZone);
  const previous = periodBounds(current.start - 1, period, limit.timeZone);
  const next = periodBounds(current.end, period, limit.timeZone);
  const record = Buffer.alloc(PERIODS.fixedSize);
  PERIODS.write(record, 0, {
    previousStart: previous.start,
    previousEnd: previous.end,
    currentStart: current.start,
    currentEnd: current.end,
    nextStart: next.start,
    nextEnd: next.end,
  });
  around.set(cacheKey, { current, record });
  return record;
}

/** Start of the calendar period holding `at` (where a settled quota charge was made); 0 for other limits. */
export function chargedPeriod(limit: Limit, at: number): number {
  return limit.algorithm === "quota" ? periodBounds(at, limit.period ?? "month", limit.timeZone).start : 0;
}

/** Appends a limit's LIMIT record, and for a quota its PERIODS around `at` (ADJUST, UNDO). */
export function addLimitRecords(input: RecordWriter, limit: Limit, at: number): void {
  input.raw(limitRecord(limit));
  if (limit.algorithm === "quota") input.raw(periodsRecord(limit, at));
}
