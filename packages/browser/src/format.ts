/**
 * The words a person reads. Every sentence comes from a `Formatter`; the default one speaks plain
 * English and builds durations and dates with `Intl`, so passing another `locale` localises the
 * numbers, units and month names, and replacing the sentence functions translates the rest.
 */

/** A calendar quota's period, when the server's fields reveal it. */
export type QuotaPeriod = "day" | "week" | "month";

export interface Formatter {
  /** "4 minutes 10 seconds". */
  duration(seconds: number): string;
  /** "Try again in 4 minutes 10 seconds". */
  retryIn(seconds: number): string;
  /** "Your monthly allowance resets on 1 December". */
  quotaResets(at: Date, period: QuotaPeriod | undefined): string;
  /** A quota is used up and the server did not say when it resets. */
  quotaExhausted(): string;
  /** 403: "Your role doesn't permit this." */
  forbidden(): string;
  /** Any other refusal; `detail` is the server's own sentence when it sent one. */
  other(status: number, detail: string | undefined): string;
}

export interface FormatterOptions {
  /** BCP 47 locale for numbers, units and dates (default "en-GB": "1 December"). */
  locale?: string;
  /** Time zone for reset dates (default: the browser's own). */
  timeZone?: string;
  /** Replace any sentence, keeping the others. */
  messages?: Partial<Formatter>;
}

const UNITS: [unit: "day" | "hour" | "minute" | "second", seconds: number][] = [
  ["day", 86_400],
  ["hour", 3_600],
  ["minute", 60],
  ["second", 1],
];

const PERIOD_WORD: Record<QuotaPeriod, string> = { day: "daily", week: "weekly", month: "monthly" };

/**
 * Builds a formatter. Durations keep the two largest non-zero units ("2 hours 5 minutes",
 * "4 minutes 10 seconds", "12 seconds"), which is as precise as a person needs to plan a retry.
 *
 * @example
 * const fr = createFormatter({ locale: "fr", messages: { retryIn: (s) => `Réessayez dans ${fr.duration(s)}` } });
 */
export function createFormatter(options: FormatterOptions = {}): Formatter {
  const locale = options.locale ?? "en-GB";
  const list = new Intl.ListFormat(locale, { style: "narrow", type: "unit" });
  const unitFormats = new Map(
    UNITS.map(([unit]) => [unit, new Intl.NumberFormat(locale, { style: "unit", unit, unitDisplay: "long" })]),
  );
  const date = new Intl.DateTimeFormat(locale, {
    day: "numeric",
    month: "long",
    ...(options.timeZone ? { timeZone: options.timeZone } : {}),
  });
  const base: Formatter = {
    duration(seconds) {
      const total = Math.max(0, Math.ceil(seconds));
      const unitText = (unit: (typeof UNITS)[number][0], count: number) =>
        unitFormats.get(unit)?.format(count) ?? `${count} ${unit}s`;
      const index = UNITS.findIndex(([, size]) => total >= size);
      const largest = UNITS[index];
      if (!largest) return unitText("second", 0);
      const parts = [unitText(largest[0], Math.floor(total / largest[1]))];
      // Only the next smaller unit follows: "1 hour 5 seconds" would read as a typo.
      const next = UNITS[index + 1];
      const nextCount = next ? Math.floor((total % largest[1]) / next[1]) : 0;
      if (next && nextCount > 0) parts.push(unitText(next[0], nextCount));
      return list.format(parts);
    },
    retryIn: (seconds) => `Try again in ${formatter.duration(seconds)}`,
    quotaResets: (at, period) =>
      `Your ${period ? `${PERIOD_WORD[period]} ` : ""}allowance resets on ${date.format(at)}`,
    quotaExhausted: () => "Your allowance is used up",
    forbidden: () => "Your role doesn't permit this.",
    other: (status, detail) => detail ?? `The request failed (HTTP ${status}).`,
  };
  const formatter: Formatter = { ...base, ...options.messages };
  return formatter;
}

/** The default: plain English, dates in the browser's time zone. */
export const defaultFormatter: Formatter = createFormatter();
