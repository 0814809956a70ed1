import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileConfig, type LimitsConfig } from "./config.js";
import { formatDuration, parseDuration } from "./duration.js";
import { ConfigError, type Issue } from "./errors.js";
import { parseLimit, parseLimits } from "./limit.js";

const base = { name: "minute", per: "user", algorithm: "fixed-window", limit: 10, window: "1m" } as const;

/** Runs `fn`, asserts it throws a ConfigError, and returns its issues. */
function issuesOf(fn: () => unknown): readonly Issue[] {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught, "expected a ConfigError").toBeInstanceOf(ConfigError);
  return (caught as ConfigError).issues;
}

const pathsOf = (fn: () => unknown) => issuesOf(fn).map((issue) => issue.path);

/** Asserts parseLimit rejects `spec` with an issue at exactly `path` (and only there). */
function rejectsAt(spec: Record<string, unknown>, path: string) {
  expect(pathsOf(() => parseLimit(spec))).toEqual([path]);
}

describe("limit config: every bad case is a ConfigError naming the field", () => {
  it("missing name", () => {
    const { name: _name, ...rest } = base;
    rejectsAt(rest, "name");
  });

  it.each([
    ["empty", ""],
    ["space", "per minute"],
    ["leading dash", "-minute"],
    ["quote", 'min"ute'],
    ["65 characters", "a".repeat(65)],
    ["a number", 42],
    ["null", null],
  ])("invalid name (%s)", (_label, name) => {
    rejectsAt({ ...base, name }, "name");
  });

  it.each([["tenant"], [""], [undefined], ["USER"]])("unknown per %j", (per) => {
    rejectsAt({ ...base, per }, "per");
  });

  it.each([["leaky-bucket"], ["fixed_window"], [undefined]])("unknown algorithm %j", (algorithm) => {
    // An unknown algorithm cannot say whether a window is required: only `algorithm` is reported.
    rejectsAt({ ...base, algorithm }, "algorithm");
  });

  it.each([
    ["0", 0],
    ["negative", -1],
    ["float", 1.5],
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["huge (1e13)", 1e13],
    ["a string", "10"],
    ["missing", undefined],
  ])("limit %s", (_label, limit) => {
    rejectsAt({ ...base, limit }, "limit");
  });

  it.each([["fixed-window"], ["sliding-window"], ["token-bucket"]])("missing window for %s", (algorithm) => {
    rejectsAt({ name: "m", per: "user", algorithm, limit: 5 }, "window");
  });

  it("concurrency without a window gets the default lease TTL (60 s)", () => {
    expect(parseLimit({ name: "c", per: "user", algorithm: "concurrency", limit: 2 }).windowMs).toBe(60_000);
  });

  it.each([
    ["1x", "1x"],
    ["-1m", "-1m"],
    ["empty string", ""],
    ["0", 0],
    ["0s", "0s"],
    ["negative number", -5],
    ["fractional ms", 1.5],
    ["half a millisecond", "0.5ms"],
    ["NaN", Number.NaN],
    ["no unit", "10"],
    ["object", { ms: 1 }],
  ])("bad duration %s", (_label, window) => {
    rejectsAt({ ...base, window }, "window");
  });

  it("window above 366 days", () => {
    rejectsAt({ ...base, window: "367d" }, "window");
    rejectsAt({ ...base, window: "53w" }, "window");
    expect(parseLimit({ ...base, window: "366d" }).windowMs).toBe(366 * 86_400_000);
  });

  it("quota without period", () => {
    rejectsAt({ name: "q", per: "org", algorithm: "quota", limit: 100 }, "period");
  });

  it("quota with an unknown period", () => {
    rejectsAt({ name: "q", per: "org", algorithm: "quota", limit: 100, period: "year" }, "period");
  });

  it("quota with window", () => {
    rejectsAt({ name: "q", per: "org", algorithm: "quota", limit: 100, period: "month", window: "30d" }, "window");
  });

  it("period on a non-quota limit", () => {
    rejectsAt({ ...base, period: "day" }, "period");
  });

  it.each([["fixed-window"], ["sliding-window"], ["concurrency"]])("burst on %s", (algorithm) => {
    rejectsAt({ ...base, algorithm, burst: 20 }, "burst");
  });

  it("burst on quota", () => {
    rejectsAt({ name: "q", per: "org", algorithm: "quota", limit: 10, period: "day", burst: 20 }, "burst");
  });

  it("burst below limit", () => {
    rejectsAt({ ...base, algorithm: "token-bucket", burst: 5 }, "burst");
  });

  it.each([[0], [1.5], [-3], ["20"]])("burst not a positive whole number (%j)", (burst) => {
    rejectsAt({ ...base, algorithm: "token-bucket", burst }, "burst");
  });

  it("a sliding log above 10,000 (one timestamp per unit) points at sliding-window", () => {
    expect(parseLimit({ ...base, algorithm: "sliding-log", limit: 10_000 }).limit).toBe(10_000);
    rejectsAt({ ...base, algorithm: "sliding-log", limit: 10_001 }, "limit");
    expect(() => parseLimit({ ...base, algorithm: "sliding-log", limit: 10_001 })).toThrow(/sliding-window/);
  });

  it("tokens unit on concurrency", () => {
    rejectsAt({ name: "c", per: "user", algorithm: "concurrency", limit: 2, unit: "tokens" }, "unit");
  });

  it.each([
    ["unit", "bytes"],
    ["mode", "shadow"],
    ["failMode", "maybe"],
    ["byokExempt", "yes"],
    ["whenMissing", "allow"],
  ])("bad enum %s", (field, value) => {
    rejectsAt({ ...base, [field]: value }, field);
  });

  it("unknown field (typo windw) is reported by its own name", () => {
    const { window: _window, ...rest } = base;
    const paths = pathsOf(() => parseLimit({ ...rest, windw: "1m" }));
    expect(paths).toContain("windw");
    // And the real window is still missing.
    expect(paths).toContain("window");
  });

  it.each([["Mars/Olympus_Mons"], [""], [42], ["Europe/Pariss"]])("bad timeZone %j", (timeZone) => {
    rejectsAt({ name: "q", per: "org", algorithm: "quota", limit: 1, period: "day", timeZone }, "timeZone");
  });

  it.each([
    ["a string", "llm_call"],
    ["a list with a number", ["llm_call", 3]],
    ["a list with an empty name", [""]],
    ["an object", { llm_call: true }],
  ])("categories not a list of names (%s)", (_label, categories) => {
    rejectsAt({ ...base, categories }, "categories");
  });

  it.each([[""], [3]])("alert empty or not a string (%j)", (alert) => {
    rejectsAt({ ...base, alert }, "alert");
  });

  it.each([
    [{ alert: "ops", alertAt: [0] }],
    [{ alert: "ops", alertAt: [101] }],
    [{ alert: "ops", alertAt: "0.8" }],
    [{ alert: "ops", alertAt: Array.from({ length: 11 }, (_, i) => (i + 1) / 11) }],
    [{ alertAt: [0.8] }],
  ])("alertAt not ratios, or without an alert route (%j)", (extra) => {
    rejectsAt({ ...base, ...extra }, "alertAt");
  });

  it("alertAt is sorted and deduplicated; absent stays absent", () => {
    expect(parseLimit({ ...base, alert: "ops", alertAt: [1, 0.5, 1] }).alertAt).toEqual([0.5, 1]);
    expect(parseLimit({ ...base, alert: "ops" }).alertAt).toBeUndefined();
  });

  it.each([[null], ["minute"], [[base]], [42]])("a limit that is not an object (%j)", (spec) => {
    expect(pathsOf(() => parseLimit(spec, "limits[0]"))).toEqual(["limits[0]"]);
  });

  it("duplicate names in a list: path limits[1].name", () => {
    const issues = issuesOf(() => parseLimits([base, { ...base, window: "1h" }]));
    expect(issues.map((i) => i.path)).toEqual(["limits[1].name"]);
    expect(issues[0]?.message).toContain("minute");
  });

  it("a list that is not a list", () => {
    expect(pathsOf(() => parseLimits({ minute: base }))).toEqual(["limits"]);
  });

  it("several problems are reported at once, with paths into the list", () => {
    const paths = pathsOf(() =>
      parseLimits([
        { ...base, limit: -1, window: "1x" },
        { name: "ok", per: "user", algorithm: "quota", limit: 5 },
        { ...base, name: "also bad name", per: "tenant" },
      ]),
    );
    expect(paths).toEqual(
      expect.arrayContaining([
        "limits[0].limit",
        "limits[0].window",
        "limits[1].period",
        "limits[2].name",
        "limits[2].per",
      ]),
    );
    expect(paths).toHaveLength(5);
  });

  it("the error message names every path", () => {
    const error = (() => {
      try {
        parseLimit({ ...base, limit: 0, window: "" });
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error("no error");
    })();
    expect(error.message).toContain("limit:");
    expect(error.message).toContain("window:");
    expect(Object.isFrozen(error.issues)).toBe(true);
  });
});

describe("compileConfig: nested paths", () => {
  const cases: [string, LimitsConfig, string][] = [
    [
      "a plan limit's window",
      { plans: { free: { limits: [{ ...base, window: "1x" }] } } },
      "plans.free.limits[0].window",
    ],
    [
      "a category limit's burst",
      { categories: { llm_call: { limits: [{ ...base, burst: 20 } as never] } } },
      "categories.llm_call.limits[0].burst",
    ],
    ["a duplicate in a plan", { plans: { pro: { limits: [base, base] } } }, "plans.pro.limits[1].name"],
    ["a top-level limit", { limits: [{ ...base, per: "team" as never }] }, "limits[0].per"],
    ["a bad plan name", { plans: { "free plan": { limits: [] } } }, "plans.free plan"],
    ["a bad category name", { categories: { "llm call!": { limits: [] } } }, "categories.llm call!"],
    ["a plan that is not an object", { plans: { free: null as never } }, "plans.free"],
    ["a plan whose limits are not a list", { plans: { free: { limits: "x" as never } } }, "plans.free.limits"],
    [
      "an empty required scope",
      { categories: { llm_call: { limits: [], requiredScope: "" } } },
      "categories.llm_call.requiredScope",
    ],
  ];
  it.each(cases)("%s", (_label, config, path) => {
    expect(pathsOf(() => compileConfig(config))).toEqual([path]);
  });

  it("reports problems from plans, categories and top-level limits together", () => {
    const paths = pathsOf(() =>
      compileConfig({
        limits: [{ ...base, limit: 0 }],
        plans: { free: { limits: [{ ...base, window: "1x" }] }, "bad name": { limits: [] } },
        categories: { llm_call: { limits: [{ ...base, unit: "tokens", algorithm: "concurrency" }] } },
      }),
    );
    expect(paths.sort()).toEqual(
      ["limits[0].limit", "plans.free.limits[0].window", "plans.bad name", "categories.llm_call.limits[0].unit"].sort(),
    );
  });

  it("the same limit name may appear in different plans", () => {
    const compiled = compileConfig({ plans: { free: { limits: [base] }, pro: { limits: [{ ...base, limit: 100 }] } } });
    expect(compiled.plans.get("free")?.[0]?.limit.limit).toBe(10);
    expect(compiled.plans.get("pro")?.[0]?.limit.limit).toBe(100);
  });
});

describe("limit config: the parsed result", () => {
  it("is normalised and frozen", () => {
    const limit = parseLimit({ ...base, categories: ["llm_call"] });
    expect(limit).toMatchObject({
      name: "minute",
      per: "user",
      algorithm: "fixed-window",
      limit: 10,
      windowMs: 60_000,
      capacity: 10,
      unit: "requests",
      mode: "enforce",
      failMode: "local",
      timeZone: "UTC",
      byokExempt: false,
    });
    expect(Object.isFrozen(limit)).toBe(true);
    expect(Object.isFrozen(limit.categories)).toBe(true);
    expect(() => {
      (limit as { limit: number }).limit = 1_000;
    }).toThrow(TypeError);
  });

  it("whenMissing defaults to deny for enforced limits and skip for monitors; either can be set", () => {
    expect(parseLimit(base).whenMissing).toBe("deny");
    expect(parseLimit({ ...base, mode: "monitor" }).whenMissing).toBe("skip");
    expect(parseLimit({ ...base, whenMissing: "skip" }).whenMissing).toBe("skip");
    expect(parseLimit({ ...base, mode: "monitor", whenMissing: "deny" }).whenMissing).toBe("deny");
  });

  it("a list is frozen too, and does not share the caller's categories array", () => {
    const categories = ["llm_call"];
    const limits = parseLimits([{ ...base, categories }]);
    expect(Object.isFrozen(limits)).toBe(true);
    categories.push("other");
    expect(limits[0]?.categories).toEqual(["llm_call"]);
  });

  it("token-bucket capacity is the burst; quota has a period and no window", () => {
    expect(parseLimit({ ...base, algorithm: "token-bucket", burst: 25 }).capacity).toBe(25);
    const quota = parseLimit({
      name: "q",
      per: "org",
      algorithm: "quota",
      limit: 9,
      period: "month",
      timeZone: "Europe/Paris",
    });
    expect(quota).toMatchObject({ period: "month", windowMs: 0, capacity: 9, timeZone: "Europe/Paris" });
  });

  it.each([
    ["30s", 30_000],
    ["1m", 60_000],
    ["1h", 3_600_000],
    ["1d", 86_400_000],
    ["500ms", 500],
    ["2w", 1_209_600_000],
    ["1.5s", 1_500],
    [250, 250],
  ])("duration %j parses to %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
    expect(parseLimit({ ...base, window: text }).windowMs).toBe(ms);
  });

  it("formatDuration inverts parseDuration for whole units (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 366 * 86_400_000 }), (ms) => {
        expect(parseDuration(formatDuration(ms))).toBe(ms);
      }),
    );
  });
});

describe("money limits (unit: usd)", () => {
  const money = { name: "spend", per: "key", algorithm: "quota", period: "month", unit: "usd" } as const;
  it("are written in dollars and count micro-dollars", () => {
    expect(parseLimit({ ...money, limit: 1 }).limit).toBe(1_000_000);
    expect(parseLimit({ ...money, limit: 0.25 }).limit).toBe(250_000);
    expect(parseLimit({ ...money, limit: 0.000001 }).capacity).toBe(1);
  });
  it("refuse amounts below a micro-dollar, finer than one, or not numbers, naming the field", () => {
    for (const limit of [0, -1, 0.0000001, 1.0000005, "1", Number.NaN]) {
      expect(() => parseLimit({ ...money, limit })).toThrow(/limit: must be an amount in dollars/);
    }
    expect(() => parseLimit({ ...money, limit: 1, algorithm: "concurrency", period: undefined })).toThrow(/unit/);
  });
});
