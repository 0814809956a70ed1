import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type CalendarPeriod, isValidTimeZone, periodBounds } from "./calendar.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Independent oracle: the local calendar date (YYYY-MM-DD) and wall time of an instant, via en-CA. */
const oracles = new Map<string, Intl.DateTimeFormat>();
function local(ms: number, timeZone: string): { date: string; time: string; weekday: string } {
  let format = oracles.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-CA", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      weekday: "short",
      hourCycle: "h23",
    });
    oracles.set(timeZone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(ms).map((p) => [p.type, p.value]));
  return {
    date: `${parts.year}-${parts.month}-${parts.day}`,
    time: `${parts.hour}:${parts.minute}:${parts.second}`,
    weekday: parts.weekday as string,
  };
}

const utc = (iso: string) => Date.parse(iso);

describe("DESIGN 7: calendar periods follow the calendar in an IANA zone", () => {
  it("the zones under test are known to this runtime's ICU", () => {
    for (const zone of ["UTC", "America/New_York", "Europe/Paris", "Australia/Lord_Howe", "America/Santiago"]) {
      expect(isValidTimeZone(zone)).toBe(true);
    }
    expect(isValidTimeZone("Mars/Olympus_Mons")).toBe(false);
  });

  describe("UTC", () => {
    it("day", () => {
      expect(periodBounds(utc("2024-03-15T13:45:00Z"), "day")).toEqual({
        start: utc("2024-03-15T00:00:00Z"),
        end: utc("2024-03-16T00:00:00Z"),
      });
    });

    it("week starts on Monday (ISO), including when now is a Sunday or a Monday", () => {
      // 2024-03-17 is a Sunday; its ISO week is Mon 11 .. Mon 18.
      expect(periodBounds(utc("2024-03-17T23:59:59.999Z"), "week")).toEqual({
        start: utc("2024-03-11T00:00:00Z"),
        end: utc("2024-03-18T00:00:00Z"),
      });
      expect(periodBounds(utc("2024-03-18T00:00:00Z"), "week")).toEqual({
        start: utc("2024-03-18T00:00:00Z"),
        end: utc("2024-03-25T00:00:00Z"),
      });
      // A week across the year end.
      expect(periodBounds(utc("2025-01-01T12:00:00Z"), "week")).toEqual({
        start: utc("2024-12-30T00:00:00Z"),
        end: utc("2025-01-06T00:00:00Z"),
      });
    });

    it.each([
      ["February of a leap year (2024): 29 days", "2024-02-10", "2024-02-01", "2024-03-01", 29],
      ["February 2100 is not a leap year: 28 days", "2100-02-28T23:59:59.999Z", "2100-02-01", "2100-03-01", 28],
      ["February 2000 is a leap year: 29 days", "2000-02-29", "2000-02-01", "2000-03-01", 29],
      ["February 2023: 28 days", "2023-02-14", "2023-02-01", "2023-03-01", 28],
      ["April: 30 days", "2024-04-30T23:00:00Z", "2024-04-01", "2024-05-01", 30],
      ["January: 31 days", "2024-01-01T00:00:00Z", "2024-01-01", "2024-02-01", 31],
      ["December to the next year: 31 days", "2024-12-31T23:59:59.999Z", "2024-12-01", "2025-01-01", 31],
    ])("month: %s", (_label, now, start, end, days) => {
      const bounds = periodBounds(utc(now), "month");
      expect(bounds).toEqual({ start: utc(`${start}T00:00:00Z`), end: utc(`${end}T00:00:00Z`) });
      expect((bounds.end - bounds.start) / DAY).toBe(days);
    });

    it("the monthly allowance resets on the 1st, not every 30 days", () => {
      const jan = periodBounds(utc("2024-01-31T12:00:00Z"), "month");
      const feb = periodBounds(jan.end, "month");
      expect(feb.start).toBe(jan.end);
      expect(local(feb.start, "UTC").date).toBe("2024-02-01");
    });
  });

  describe("America/New_York", () => {
    const zone = "America/New_York";
    it("day of the spring-forward change (23 h) and the fall-back change (25 h)", () => {
      const spring = periodBounds(utc("2024-03-10T12:00:00Z"), "day", zone);
      expect(spring).toEqual({ start: utc("2024-03-10T05:00:00Z"), end: utc("2024-03-11T04:00:00Z") });
      expect(spring.end - spring.start).toBe(23 * HOUR);
      const fall = periodBounds(utc("2024-11-03T12:00:00Z"), "day", zone);
      expect(fall).toEqual({ start: utc("2024-11-03T04:00:00Z"), end: utc("2024-11-04T05:00:00Z") });
      expect(fall.end - fall.start).toBe(25 * HOUR);
    });

    it("month starts at local midnight on the 1st, across a DST change", () => {
      expect(periodBounds(utc("2024-03-20T12:00:00Z"), "month", zone)).toEqual({
        start: utc("2024-03-01T05:00:00Z"),
        end: utc("2024-04-01T04:00:00Z"),
      });
      // 2024-03-01T03:00Z is still February 29 in New York.
      expect(periodBounds(utc("2024-03-01T03:00:00Z"), "month", zone)).toEqual({
        start: utc("2024-02-01T05:00:00Z"),
        end: utc("2024-03-01T05:00:00Z"),
      });
    });

    it("week (ISO Monday) in local time", () => {
      // Sunday 2024-11-03 21:00 local = Monday 02:00Z: still the week of Mon Oct 28 locally.
      expect(periodBounds(utc("2024-11-04T02:00:00Z"), "week", zone)).toEqual({
        start: utc("2024-10-28T04:00:00Z"),
        end: utc("2024-11-04T05:00:00Z"),
      });
    });

    it("year end", () => {
      expect(periodBounds(utc("2025-01-01T04:59:59.999Z"), "month", zone)).toEqual({
        start: utc("2024-12-01T05:00:00Z"),
        end: utc("2025-01-01T05:00:00Z"),
      });
    });
  });

  describe("Europe/Paris", () => {
    const zone = "Europe/Paris";
    it("day of the spring-forward change (23 h) and the fall-back change (25 h)", () => {
      const spring = periodBounds(utc("2024-03-31T10:00:00Z"), "day", zone);
      expect(spring).toEqual({ start: utc("2024-03-30T23:00:00Z"), end: utc("2024-03-31T22:00:00Z") });
      const fall = periodBounds(utc("2024-10-27T10:00:00Z"), "day", zone);
      expect(fall).toEqual({ start: utc("2024-10-26T22:00:00Z"), end: utc("2024-10-27T23:00:00Z") });
      expect(fall.end - fall.start).toBe(25 * HOUR);
    });

    it("month: April starts at 22:00Z on March 31", () => {
      expect(periodBounds(utc("2024-04-15T00:00:00Z"), "month", zone)).toEqual({
        start: utc("2024-03-31T22:00:00Z"),
        end: utc("2024-04-30T22:00:00Z"),
      });
    });
  });

  describe("Australia/Lord_Howe (30-minute DST)", () => {
    const zone = "Australia/Lord_Howe";
    it("the day DST starts is 23.5 h long", () => {
      // 2024-10-06 02:00 local (+10:30) becomes 02:30 (+11).
      const day = periodBounds(utc("2024-10-06T00:00:00Z"), "day", zone);
      expect(day).toEqual({ start: utc("2024-10-05T13:30:00Z"), end: utc("2024-10-06T13:00:00Z") });
      expect(day.end - day.start).toBe(23.5 * HOUR);
    });

    it("the day DST ends is 24.5 h long", () => {
      // 2024-04-07 02:00 local (+11) becomes 01:30 (+10:30).
      const day = periodBounds(utc("2024-04-07T05:00:00Z"), "day", zone);
      expect(day).toEqual({ start: utc("2024-04-06T13:00:00Z"), end: utc("2024-04-07T13:30:00Z") });
      expect(day.end - day.start).toBe(24.5 * HOUR);
    });
  });

  describe("America/Santiago (DST changes at midnight: local midnight is skipped or repeated)", () => {
    const zone = "America/Santiago";
    it("2024-09-08 has no midnight: the day starts at 01:00 local and lasts 23 h", () => {
      const day = periodBounds(utc("2024-09-08T12:00:00Z"), "day", zone);
      expect(day).toEqual({ start: utc("2024-09-08T04:00:00Z"), end: utc("2024-09-09T03:00:00Z") });
      expect(local(day.start, zone)).toMatchObject({ date: "2024-09-08", time: "01:00:00" });
      expect(local(day.start - 1, zone).date).toBe("2024-09-07");
      expect(day.end - day.start).toBe(23 * HOUR);
    });

    it("2024-04-06 repeats 23:00-24:00: the day lasts 25 h and the 7th starts after the repeat", () => {
      const day = periodBounds(utc("2024-04-06T12:00:00Z"), "day", zone);
      expect(day).toEqual({ start: utc("2024-04-06T03:00:00Z"), end: utc("2024-04-07T04:00:00Z") });
      expect(day.end - day.start).toBe(25 * HOUR);
    });

    it("a week containing the skipped midnight starts on Monday local midnight", () => {
      const week = periodBounds(utc("2024-09-08T12:00:00Z"), "week", zone);
      expect(week).toEqual({ start: utc("2024-09-02T04:00:00Z"), end: utc("2024-09-09T03:00:00Z") });
    });
  });

  it("returns a frozen value that callers cannot corrupt (the per-zone cache)", () => {
    const bounds = periodBounds(utc("2024-05-05T05:05:05Z"), "month", "Europe/Paris");
    expect(Object.isFrozen(bounds)).toBe(true);
  });

  const ZONES = [
    "UTC",
    "America/New_York",
    "Europe/Paris",
    "Australia/Lord_Howe",
    "America/Santiago",
    "America/Havana",
    "Asia/Beirut",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "America/St_Johns",
    "Africa/Casablanca",
  ];
  const PERIODS: CalendarPeriod[] = ["day", "week", "month"];
  const FIRST_DAY: Record<CalendarPeriod, (d: { date: string; weekday: string }) => boolean> = {
    day: () => true,
    week: (d) => d.weekday === "Mon",
    month: (d) => d.date.endsWith("-01"),
  };

  it("property: start <= now < end; the local date changes exactly at start; end is the next period's start", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: utc("1996-01-01T00:00:00Z"), max: utc("2099-12-31T00:00:00Z") }),
        fc.constantFrom(...ZONES),
        fc.constantFrom(...PERIODS),
        (now, zone, period) => {
          const { start, end } = periodBounds(now, period, zone);
          expect(start).toBeLessThanOrEqual(now);
          expect(now).toBeLessThan(end);
          const first = local(start, zone);
          const before = local(start - 1, zone);
          expect(before.date < first.date).toBe(true);
          expect(FIRST_DAY[period](first)).toBe(true);
          // The last millisecond is still in the period; the next period begins at `end`.
          const last = local(end - 1, zone);
          const next = local(end, zone);
          expect(last.date < next.date).toBe(true);
          expect(FIRST_DAY[period](next)).toBe(true);
          expect(periodBounds(end, period, zone).start).toBe(end);
          expect(periodBounds(start - 1, period, zone).end).toBe(start);
          // (From 1996: Kiritimati skipped 1994-12-31 when it crossed the date line.)
          // Lengths: a day 23-25 h (Lord Howe 23.5/24.5), a week 7 days +-1 h, a month 28-31 days +-1 h.
          const length = end - start;
          const [min, max] =
            period === "day"
              ? [23 * HOUR, 25 * HOUR]
              : period === "week"
                ? [7 * DAY - HOUR, 7 * DAY + HOUR]
                : [28 * DAY - HOUR, 31 * DAY + HOUR];
          expect(length).toBeGreaterThanOrEqual(min);
          expect(length).toBeLessThanOrEqual(max);
        },
      ),
      { numRuns: 1500 },
    );
  });
});
