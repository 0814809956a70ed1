import { type CalendarPeriod, isValidTimeZone } from "./calendar.js";
import { parseDuration } from "./duration.js";
import { ConfigError, type Issue } from "./errors.js";
import { isName, NAME_RULE } from "./names.js";

export const ALGORITHMS = [
  "fixed-window",
  "sliding-window",
  "sliding-log",
  "token-bucket",
  "quota",
  "concurrency",
] as const;
export const SUBJECT_KINDS = ["user", "key", "org", "project", "ip", "global"] as const;
export const PERIODS = ["day", "week", "month"] as const;

export type AlgorithmName = (typeof ALGORITHMS)[number];
export type SubjectKind = (typeof SUBJECT_KINDS)[number];
export type LimitMode = "enforce" | "monitor";
/**
 * What a limit does while its store is unavailable: `local` (default) decides on a local
 * fallback limiter holding a per-process share of the limit; `open` allows (unlimited while the
 * outage lasts); `closed` denies.
 */
export type FailMode = "local" | "open" | "closed";
/**
 * What a limit counts: requests, tokens, or money (`usd`). A `usd` limit is written in dollars
 * (`limit: 1.5`) and counts micro-dollars (1 USD = 1,000,000), so every cost stays a whole number.
 */
export type LimitUnit = "requests" | "tokens" | "usd";
/** Micro-dollars per dollar: the unit `usd` limits count in. */
export const MICRO_USD_PER_USD = 1_000_000;
/** What a limit does when the request's subject lacks its `per` kind (a per-user limit, no user). */
export type WhenMissing = "deny" | "skip";

/**
 * A limit as written by people (config file, admin API, library call). See docs/semantics.md.
 *
 * @example
 * const spec: LimitSpec = { name: "llm-hour", per: "user", algorithm: "sliding-window", limit: 20, window: "1h" };
 */
export interface LimitSpec {
  /** Unique within its plan or category; also the policy name in RateLimit headers. */
  name: string;
  /** Which subject is charged. */
  per: SubjectKind;
  algorithm: AlgorithmName;
  /** Requests (or tokens) per window; the in-flight cap for `concurrency`; dollars for `unit: usd`. */
  limit: number;
  /** Rolling algorithms: `30s`, `1m`, `1h`, `1d`, or milliseconds. For `concurrency`, the lease TTL (default 60 s). */
  window?: string | number;
  /** `quota` only: calendar period in `timeZone`. */
  period?: CalendarPeriod;
  /** `token-bucket` only: bucket capacity when above `limit` (short bursts above the steady rate). */
  burst?: number;
  unit?: LimitUnit;
  mode?: LimitMode;
  failMode?: FailMode;
  /** Applies only to these categories; absent = all. */
  categories?: string[];
  /** Alert route (a sink or a list of sinks) for monitor crossings and near-limit events. */
  alert?: string;
  /**
   * Usage ratios that raise `near_limit` once per window or period per subject (needs `alert`).
   * Default `[0.8, 1.0]` for enforced limits; monitor limits raise `threshold_crossed` instead
   * unless they list ratios here.
   */
  alertAt?: number[];
  /** IANA zone for calendar periods; default UTC. */
  timeZone?: string;
  /** Skip this limit when the caller brings its own provider key (token limits are skipped anyway). */
  byokExempt?: boolean;
  /**
   * The subject lacks this limit's `per` kind: `deny` (reason `subject_missing`) or `skip` (counted
   * in the limiter's `onSubjectMissing` hook). Default `deny` for enforce limits, `skip` for monitors.
   */
  whenMissing?: WhenMissing;
}

/** A validated, normalised, frozen limit. Built once at construction by {@link parseLimit}. */
export interface Limit {
  readonly name: string;
  readonly per: SubjectKind;
  readonly algorithm: AlgorithmName;
  readonly limit: number;
  /** Window length (rolling algorithms) or lease TTL (concurrency); 0 for quota. */
  readonly windowMs: number;
  readonly period?: CalendarPeriod;
  /** Largest cost that can ever fit: `burst` for token-bucket, else `limit`. */
  readonly capacity: number;
  readonly unit: LimitUnit;
  readonly mode: LimitMode;
  readonly failMode: FailMode;
  readonly categories?: readonly string[];
  readonly alert?: string;
  /** Ascending, distinct; present only when the limit lists them. */
  readonly alertAt?: readonly number[];
  readonly timeZone: string;
  readonly byokExempt: boolean;
  readonly whenMissing: WhenMissing;
}

/** Largest count or cost we accept: well inside the exact integer range of a double (and of Lua). */
export const MAX_AMOUNT = 1e12;
/** Largest `limit` of a sliding log: it keeps one timestamp per charge, so memory is O(limit) per subject. */
export const MAX_SLIDING_LOG_LIMIT = 10_000;
const MAX_WINDOW_MS = 366 * 86_400_000;
const DEFAULT_LEASE_MS = 60_000;
const KNOWN_FIELDS = new Set([
  "name",
  "per",
  "algorithm",
  "limit",
  "window",
  "period",
  "burst",
  "unit",
  "mode",
  "failMode",
  "categories",
  "alert",
  "alertAt",
  "timeZone",
  "byokExempt",
  "whenMissing",
]);

function oneOf<T extends string>(
  value: unknown,
  allowed: readonly T[],
  path: string,
  issues: Issue[],
  fallback?: T,
): T | undefined {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T;
  issues.push({ path, message: `must be one of ${allowed.join(", ")} (got ${JSON.stringify(value)})` });
  return undefined;
}

function positiveInteger(value: unknown, path: string, issues: Issue[]): number | undefined {
  if (typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= MAX_AMOUNT) return value;
  issues.push({ path, message: `must be a whole number from 1 to ${MAX_AMOUNT} (got ${JSON.stringify(value)})` });
  return undefined;
}

/** A money limit in dollars (at most 6 decimals), as whole micro-dollars. */
function dollars(value: unknown, path: string, issues: Issue[]): number | undefined {
  const micros = typeof value === "number" ? Math.round(value * MICRO_USD_PER_USD) : Number.NaN;
  if (micros >= 1 && micros <= MAX_AMOUNT && Math.abs(micros - (value as number) * MICRO_USD_PER_USD) < 1e-3)
    return micros;
  issues.push({
    path,
    message: `must be an amount in dollars from 0.000001 to ${MAX_AMOUNT / MICRO_USD_PER_USD} (got ${JSON.stringify(value)})`,
  });
  return undefined;
}

/** Largest near-limit ratio: a monitor may alert at several times its threshold. */
const MAX_ALERT_RATIO = 100;

/** `alertAt`: up to 10 ratios in (0, 100], sorted and deduplicated; only with an `alert` route. */
function parseAlertAt(raw: Record<string, unknown>, path: string, issues: Issue[]): readonly number[] | undefined {
  const value = raw.alertAt;
  if (value === undefined) return undefined;
  if (
    !Array.isArray(value) ||
    value.length > 10 ||
    value.some((r) => typeof r !== "number" || !Number.isFinite(r) || r <= 0 || r > MAX_ALERT_RATIO)
  ) {
    issues.push({
      path,
      message: `must be a list of at most 10 ratios above 0 and at most ${MAX_ALERT_RATIO}, e.g. [0.8, 1.0]`,
    });
    return undefined;
  }
  if (raw.alert === undefined) {
    issues.push({ path, message: "needs `alert`: the route its near_limit events go to" });
    return undefined;
  }
  return Object.freeze([...new Set(value as number[])].sort((a, b) => a - b));
}

function collectLimit(spec: unknown, prefix: string, issues: Issue[]): Limit | undefined {
  const at = (field: string) => (prefix ? `${prefix}.${field}` : field);
  if (typeof spec !== "object" || spec === null || Array.isArray(spec)) {
    issues.push({ path: prefix, message: "must be an object" });
    return undefined;
  }
  const raw = spec as Record<string, unknown>;
  const before = issues.length;
  for (const field of Object.keys(raw)) {
    if (!KNOWN_FIELDS.has(field)) issues.push({ path: at(field), message: "is not a limit field" });
  }
  const name = raw.name;
  if (!isName(name)) issues.push({ path: at("name"), message: `must be ${NAME_RULE}` });
  const per = oneOf(raw.per, SUBJECT_KINDS, at("per"), issues);
  const algorithm = oneOf(raw.algorithm, ALGORITHMS, at("algorithm"), issues);
  const unit = oneOf(raw.unit, ["requests", "tokens", "usd"] as const, at("unit"), issues, "requests");
  const limit =
    unit === "usd" ? dollars(raw.limit, at("limit"), issues) : positiveInteger(raw.limit, at("limit"), issues);
  const mode = oneOf(raw.mode, ["enforce", "monitor"] as const, at("mode"), issues, "enforce");
  const failMode = oneOf(raw.failMode, ["local", "open", "closed"] as const, at("failMode"), issues, "local");
  const whenMissing = oneOf(
    raw.whenMissing,
    ["deny", "skip"] as const,
    at("whenMissing"),
    issues,
    mode === "monitor" ? "skip" : "deny",
  );
  if (algorithm === "sliding-log" && limit !== undefined && limit > MAX_SLIDING_LOG_LIMIT) {
    issues.push({
      path: at("limit"),
      message: `sliding-log keeps one timestamp per unit: at most ${MAX_SLIDING_LOG_LIMIT} (got ${limit}); use sliding-window for larger limits`,
    });
  }
  const timeZone = raw.timeZone ?? "UTC";
  if (typeof timeZone !== "string" || !isValidTimeZone(timeZone)) {
    issues.push({ path: at("timeZone"), message: `must be an IANA time zone such as "UTC" or "Europe/Paris"` });
  }

  let windowMs = 0;
  let period: CalendarPeriod | undefined;
  if (algorithm === "quota") {
    period = oneOf(raw.period, PERIODS, at("period"), issues);
    if (raw.window !== undefined)
      issues.push({ path: at("window"), message: "quota limits use `period`, not `window`" });
  } else if (algorithm !== undefined) {
    if (raw.period !== undefined) issues.push({ path: at("period"), message: "only quota limits have a `period`" });
    if (raw.window === undefined && algorithm === "concurrency") windowMs = DEFAULT_LEASE_MS;
    else {
      try {
        windowMs = parseDuration(raw.window, at("window"));
        if (windowMs > MAX_WINDOW_MS) issues.push({ path: at("window"), message: "must be at most 366 days" });
      } catch (error) {
        if (error instanceof ConfigError) issues.push(...error.issues);
        else throw error;
      }
    }
  }

  let capacity = limit ?? 0;
  if (raw.burst !== undefined) {
    if (algorithm !== "token-bucket")
      issues.push({ path: at("burst"), message: "only token-bucket limits have a `burst`" });
    const burst = positiveInteger(raw.burst, at("burst"), issues);
    if (burst !== undefined && limit !== undefined && burst < limit) {
      issues.push({ path: at("burst"), message: `must be at least limit (${limit})` });
    } else if (burst !== undefined) capacity = burst;
  }
  if (algorithm === "concurrency" && unit !== "requests") {
    issues.push({ path: at("unit"), message: `concurrency limits count requests in flight, not ${unit}` });
  }

  let categories: readonly string[] | undefined;
  if (raw.categories !== undefined) {
    if (!Array.isArray(raw.categories) || raw.categories.some((c) => typeof c !== "string" || c.length === 0)) {
      issues.push({ path: at("categories"), message: "must be a list of category names" });
    } else categories = Object.freeze([...(raw.categories as string[])]);
  }
  if (raw.alert !== undefined && (typeof raw.alert !== "string" || raw.alert.length === 0)) {
    issues.push({ path: at("alert"), message: "must be the name of an alert sink" });
  }
  const alertAt = parseAlertAt(raw, at("alertAt"), issues);
  if (raw.byokExempt !== undefined && typeof raw.byokExempt !== "boolean") {
    issues.push({ path: at("byokExempt"), message: "must be true or false" });
  }
  if (issues.length > before) return undefined;

  const parsed: Limit = {
    name: name as string,
    per: per as SubjectKind,
    algorithm: algorithm as AlgorithmName,
    limit: limit as number,
    windowMs,
    ...(period ? { period } : {}),
    capacity,
    unit: unit as LimitUnit,
    mode: mode as LimitMode,
    failMode: failMode as FailMode,
    ...(categories ? { categories } : {}),
    ...(typeof raw.alert === "string" ? { alert: raw.alert } : {}),
    ...(alertAt ? { alertAt } : {}),
    timeZone: timeZone as string,
    byokExempt: raw.byokExempt === true,
    whenMissing: whenMissing as WhenMissing,
  };
  return Object.freeze(parsed);
}

/**
 * Validates one limit and returns it normalised and frozen. Throws a ConfigError listing
 * every problem by field path.
 *
 * @example
 * parseLimit({ name: "minute", per: "key", algorithm: "fixed-window", limit: 10, window: "1m" }).windowMs // 60000
 */
export function parseLimit(spec: unknown, path = ""): Limit {
  const issues: Issue[] = [];
  const limit = collectLimit(spec, path, issues);
  if (!limit) throw new ConfigError(issues);
  return limit;
}

/**
 * Validates a list of limits (names must be unique within it). Every problem in every limit is
 * reported at once, each with its path (`plans.free.limits[1].window`).
 */
export function parseLimits(specs: unknown, path = "limits"): readonly Limit[] {
  const issues: Issue[] = [];
  if (!Array.isArray(specs)) throw new ConfigError([{ path, message: "must be a list of limits" }]);
  const limits: Limit[] = [];
  const seen = new Set<string>();
  specs.forEach((spec, index) => {
    const limit = collectLimit(spec, `${path}[${index}]`, issues);
    if (!limit) return;
    if (seen.has(limit.name)) {
      issues.push({ path: `${path}[${index}].name`, message: `"${limit.name}" is already used in this list` });
    }
    seen.add(limit.name);
    limits.push(limit);
  });
  if (issues.length > 0) throw new ConfigError(issues);
  return Object.freeze(limits);
}
