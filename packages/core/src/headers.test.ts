import fc from "fast-check";
import { parseList } from "structured-headers";
import { describe, expect, it } from "vitest";
import { manualClock } from "./clock.js";
import type { Decision, LimitStatus } from "./decision.js";
import { denialProblem, rateLimitHeaders } from "./headers.js";
import { createLimiter } from "./limiter.js";
import { memoryStore } from "./memory-store.js";
import { PROBLEMS } from "./problems.js";

function status(overrides: Partial<LimitStatus> = {}): LimitStatus {
  return {
    name: "minute",
    subject: "user:u-42",
    mode: "enforce",
    algorithm: "fixed-window",
    unit: "requests",
    limit: 10,
    used: 3,
    remaining: 7,
    reset: 42,
    window: 60,
    exceeded: false,
    crossed: false,
    ...overrides,
  };
}

/** Parses a list field with a third-party RFC 8941/9651 parser; every member must be a string item. */
function parsed(field: string | undefined) {
  expect(field).toBeDefined();
  return parseList(field as string).map((member) => {
    const [value, params] = member as [unknown, Map<string, unknown>];
    expect(typeof value).toBe("string");
    return { name: value as string, params: Object.fromEntries(params) };
  });
}

const isNonNegativeInteger = (value: unknown) => typeof value === "number" && Number.isInteger(value) && value >= 0;

describe("IETF RateLimit-Policy / RateLimit fields (validated with structured-headers)", () => {
  it("one item per enforced limit: q and w integers in the policy, r and t integers in RateLimit", () => {
    const headers = rateLimitHeaders({
      allowed: true,
      limits: [
        status(),
        status({ name: "hour", limit: 100, remaining: 90, reset: 3_000, window: 3_600 }),
        status({ name: "tokens", unit: "tokens", limit: 10_000, remaining: 500, reset: 5, window: 60 }),
        status({ name: "inflight", algorithm: "concurrency", limit: 2, remaining: 1, reset: 0, window: 60 }),
      ],
    });
    const policy = parsed(headers["RateLimit-Policy"]);
    expect(policy.map((p) => p.name)).toEqual(["minute", "hour", "tokens", "inflight"]);
    expect(policy[0]?.params).toEqual({ q: 10, w: 60 });
    expect(policy[1]?.params).toEqual({ q: 100, w: 3_600 });
    expect(policy[2]?.params).toEqual({ q: 10_000, qu: "tokens", w: 60 });
    expect(policy[3]?.params).toEqual({ q: 2, qu: "concurrent-requests" });
    const current = parsed(headers.RateLimit);
    expect(current.map((c) => [c.name, c.params])).toEqual([
      ["minute", { r: 7, t: 42 }],
      ["hour", { r: 90, t: 3_000 }],
      ["tokens", { r: 500, t: 5 }],
      ["inflight", { r: 1, t: 0 }],
    ]);
    for (const { params } of [...policy, ...current]) {
      for (const key of ["q", "w", "r", "t"]) if (key in params) expect(isNonNegativeInteger(params[key])).toBe(true);
    }
    expect(headers["Retry-After"]).toBeUndefined();
  });

  it("names needing escapes stay valid strings (quote and backslash escaped, non-ASCII replaced)", () => {
    const headers = rateLimitHeaders({
      allowed: true,
      limits: [status({ name: 'a"b\\c' }), status({ name: "ü-名" })],
    });
    expect(parsed(headers["RateLimit-Policy"]).map((p) => p.name)).toEqual(['a"b\\c', "?-?"]);
    expect(parsed(headers.RateLimit).map((p) => p.name)).toEqual(['a"b\\c', "?-?"]);
  });

  it("duplicate names become unique policy names (kind appended)", () => {
    const headers = rateLimitHeaders({
      allowed: true,
      limits: [
        status(),
        status({ subject: "ip:203.0.113.7" }),
        status({ subject: "ip:203.0.113.8" }),
        status({ name: "minute-ip" }),
      ],
    });
    const names = parsed(headers["RateLimit-Policy"]).map((p) => p.name);
    expect(names[0]).toBe("minute");
    expect(names[1]).toBe("minute-ip");
    expect(new Set(names).size).toBe(4);
    expect(parsed(headers.RateLimit).map((p) => p.name)).toEqual(names);
  });

  it("property: any statuses give parseable fields with unique names and integer parameters", () => {
    const arbitraryStatus = fc.record({
      name: fc.string({ minLength: 1, maxLength: 12 }),
      kind: fc.constantFrom("user", "ip", "org", "key"),
      limit: fc.integer({ min: 1, max: 1e12 }),
      remaining: fc.integer({ min: 0, max: 1e12 }),
      reset: fc.integer({ min: 0, max: 40_000_000 }),
      window: fc.integer({ min: 1, max: 31_622_400 }),
      unit: fc.constantFrom("requests" as const, "tokens" as const),
      algorithm: fc.constantFrom("fixed-window" as const, "concurrency" as const, "quota" as const),
    });
    fc.assert(
      fc.property(fc.array(arbitraryStatus, { minLength: 1, maxLength: 8 }), (specs) => {
        const headers = rateLimitHeaders({
          allowed: true,
          limits: specs.map((s) => status({ ...s, subject: `${s.kind}:x` })),
        });
        const policy = parsed(headers["RateLimit-Policy"]);
        const current = parsed(headers.RateLimit);
        expect(new Set(policy.map((p) => p.name)).size).toBe(specs.length);
        expect(current.map((c) => c.name)).toEqual(policy.map((p) => p.name));
        policy.forEach((p, i) => {
          expect(p.params.q).toBe(specs[i]?.limit);
          if ("w" in p.params) expect(p.params.w).toBe(specs[i]?.window);
        });
        current.forEach((c, i) => {
          expect(c.params).toEqual({ r: specs[i]?.remaining, t: specs[i]?.reset });
        });
      }),
    );
  });

  it("monitor limits are absent from every header", () => {
    const headers = rateLimitHeaders(
      {
        allowed: true,
        limits: [status(), status({ name: "shadow", mode: "monitor", remaining: 0, exceeded: true })],
      },
      { legacy: true, openai: true, now: () => 0 },
    );
    expect(parsed(headers["RateLimit-Policy"]).map((p) => p.name)).toEqual(["minute"]);
    expect(parsed(headers.RateLimit).map((p) => p.name)).toEqual(["minute"]);
    expect(headers["X-RateLimit-Remaining"]).toBe("7");
    expect(headers["x-ratelimit-remaining-requests"]).toBe("7");
    const onlyMonitors = rateLimitHeaders({ allowed: true, limits: [status({ mode: "monitor" })] }, { legacy: true });
    expect(onlyMonitors).toEqual({});
  });

  it("Retry-After only on a denial", () => {
    const denied: Decision = {
      allowed: false,
      reason: "limit_exceeded",
      retryAfter: 42,
      limits: [status({ remaining: 0, exceeded: true })],
    };
    expect(rateLimitHeaders(denied)["Retry-After"]).toBe("42");
    expect(rateLimitHeaders({ ...denied, allowed: true })["Retry-After"]).toBeUndefined();
    expect(rateLimitHeaders(denied, { retryAfter: false })["Retry-After"]).toBeUndefined();
    const { retryAfter: _r, ...never } = denied;
    expect(rateLimitHeaders({ ...never, reason: "cost_exceeds_limit" })["Retry-After"]).toBeUndefined();
  });

  it("ietf: false leaves the IETF fields out", () => {
    expect(rateLimitHeaders({ allowed: true, limits: [status()] }, { ietf: false })).toEqual({});
  });
});

describe("legacy and OpenAI-style headers", () => {
  const decision: Decision = {
    allowed: true,
    limits: [
      status({ name: "minute", limit: 10, remaining: 7, reset: 42 }),
      status({ name: "hour", limit: 100, remaining: 7, reset: 360 }),
      status({ name: "tpm", unit: "tokens", limit: 40_000, remaining: 39_000, reset: 3_723 }),
    ],
  };

  it("X-RateLimit-* describe the most restrictive limit, reset as epoch seconds", () => {
    const headers = rateLimitHeaders(decision, { legacy: true, now: () => 1_700_000_000_500 });
    expect(headers["X-RateLimit-Limit"]).toBe("100"); // same remaining: the later reset wins
    expect(headers["X-RateLimit-Remaining"]).toBe("7");
    expect(headers["X-RateLimit-Reset"]).toBe(String(1_700_000_001 + 360));
    expect(headers["x-ratelimit-limit-requests"]).toBeUndefined();
  });

  it("x-ratelimit-*-requests and -tokens, reset in OpenAI's 6m0s format", () => {
    const headers = rateLimitHeaders(decision, { openai: true });
    expect(headers).toMatchObject({
      "x-ratelimit-limit-requests": "100",
      "x-ratelimit-remaining-requests": "7",
      "x-ratelimit-reset-requests": "6m0s",
      "x-ratelimit-limit-tokens": "40000",
      "x-ratelimit-remaining-tokens": "39000",
      "x-ratelimit-reset-tokens": "1h2m3s",
    });
    expect(headers["X-RateLimit-Limit"]).toBeUndefined();
    const seconds = rateLimitHeaders({ allowed: true, limits: [status({ reset: 1 })] }, { openai: true });
    expect(seconds["x-ratelimit-reset-requests"]).toBe("1s");
    expect(seconds["x-ratelimit-limit-tokens"]).toBeUndefined();
  });
});

describe("denialProblem (RFC 9457)", () => {
  const exceeded = status({ remaining: 0, exceeded: true });

  it("limit_exceeded: 429, rate type, retry-after, violated policies are the exceeded enforced limits", () => {
    const problem = denialProblem({
      allowed: false,
      reason: "limit_exceeded",
      retryAfter: 42,
      limits: [exceeded, status({ name: "hour" }), status({ name: "shadow", mode: "monitor", exceeded: true })],
    });
    expect(problem).toMatchObject({
      type: PROBLEMS.rateLimited.type,
      status: 429,
      reason: "limit_exceeded",
      retryAfter: 42,
      violatedPolicies: ["minute"],
    });
    expect(problem.detail).toContain("42 seconds");
  });

  it("quota_exceeded: 429 and a type naming quota-exceeded", () => {
    const problem = denialProblem({
      allowed: false,
      reason: "quota_exceeded",
      retryAfter: 7_200,
      limits: [status({ name: "monthly", algorithm: "quota", remaining: 0, exceeded: true })],
    });
    expect(problem.status).toBe(429);
    expect(problem.type).toContain("quota-exceeded");
    expect(problem.retryAfter).toBe(7_200);
    expect(problem.violatedPolicies).toEqual(["monthly"]);
  });

  it("cost_exceeds_limit: 429, no retry-after", () => {
    const problem = denialProblem({ allowed: false, reason: "cost_exceeds_limit", limits: [exceeded] });
    expect(problem).toMatchObject({ status: 429, type: PROBLEMS.costExceedsLimit.type, violatedPolicies: ["minute"] });
    expect("retryAfter" in problem).toBe(false);
  });

  it("forbidden 403, invalid_key 401, store_unavailable 503", () => {
    expect(denialProblem({ allowed: false, reason: "forbidden", limits: [] })).toMatchObject({
      status: 403,
      type: PROBLEMS.forbiddenScope.type,
      violatedPolicies: [],
    });
    expect(denialProblem({ allowed: false, reason: "invalid_key", limits: [] })).toMatchObject({
      status: 401,
      type: PROBLEMS.invalidKey.type,
    });
    expect(
      denialProblem({ allowed: false, reason: "store_unavailable", degraded: true, retryAfter: 1, limits: [] }),
    ).toMatchObject({ status: 503, type: PROBLEMS.storeUnavailable.type, retryAfter: 1 });
  });

  it("from a real limiter denial: headers and problem agree", async () => {
    const clock = manualClock(Date.UTC(2026, 0, 1, 0, 0, 30));
    const limiter = createLimiter({
      store: memoryStore({ clock }),
      clock,
      limits: [
        { name: "minute", per: "user", algorithm: "fixed-window", limit: 1, window: "1m" },
        { name: "watch", per: "user", algorithm: "fixed-window", limit: 1, window: "1m", mode: "monitor" },
      ],
    });
    await limiter.check({ subject: { user: "u" } });
    const denied = await limiter.check({ subject: { user: "u" } });
    const headers = rateLimitHeaders(denied);
    expect(headers["Retry-After"]).toBe("30");
    expect(parsed(headers.RateLimit)).toEqual([{ name: "minute", params: { r: 0, t: 30 } }]);
    expect(parsed(headers["RateLimit-Policy"])).toEqual([{ name: "minute", params: { q: 1, w: 60 } }]);
    expect(denialProblem(denied)).toMatchObject({ status: 429, retryAfter: 30, violatedPolicies: ["minute"] });
  });
});

describe("decisions serialise without configuration", () => {
  it("JSON.stringify(decision) shows the receipt's summary, not the limits it charged", async () => {
    const limiter = createLimiter({
      store: memoryStore(),
      limits: [{ name: "minute", per: "user", algorithm: "fixed-window", limit: 5, window: "1m", alert: "ops-sink" }],
    });
    const decision = await limiter.check({ subject: { user: "u-1" } });
    const json = JSON.parse(JSON.stringify(decision));
    expect(json.receipt).toEqual({ at: expect.any(Number), cost: 1, store: "primary", counters: 1 });
    expect(JSON.stringify(json.receipt)).not.toContain("windowMs");
    expect(decision.receipt?.items).toHaveLength(1);
  });
});
