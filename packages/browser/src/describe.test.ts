import { createLimiter, denialProblem, manualClock, memoryStore, rateLimitHeaders } from "@tollgate/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createFormatter, describeDenial } from "./index.js";

const problemJson = { "content-type": "application/problem+json" };

/** A real 429 as Tollgate's middleware answers it: headers and problem body from an actual denial. */
async function realDenial(limit: Parameters<typeof createLimiter>[0]["limits"], at: number, calls: number) {
  const clock = manualClock(at);
  const limiter = createLimiter({ store: memoryStore({ clock }), clock, limits: limit });
  let decision = await limiter.check({ subject: { user: "u-1" } });
  for (let i = 1; i < calls; i++) decision = await limiter.check({ subject: { user: "u-1" } });
  expect(decision.allowed).toBe(false);
  return new Response(JSON.stringify(denialProblem(decision)), {
    status: 429,
    headers: { ...problemJson, ...rateLimitHeaders(decision) },
  });
}

describe("describeDenial on real Response objects", () => {
  it("happy: a 429 with Retry-After 250 reads 'Try again in 4 minutes 10 seconds'", async () => {
    const res = new Response(JSON.stringify({ title: "Too many requests", status: 429, reason: "limit_exceeded" }), {
      status: 429,
      headers: { ...problemJson, "Retry-After": "250" },
    });
    const denial = await describeDenial(res, { now: () => 0 });
    expect(denial).toMatchObject({ kind: "rate_limited", retryAfter: 250, retryable: true });
    expect(denial.message).toBe("Try again in 4 minutes 10 seconds");
    // The caller can still read the body afterwards.
    expect(((await res.json()) as { reason: string }).reason).toBe("limit_exceeded");
  });

  it("happy: 12 seconds reads 'Try again in 12 seconds'", async () => {
    const res = new Response(null, { status: 429, headers: { "Retry-After": "12" } });
    expect((await describeDenial(res)).message).toBe("Try again in 12 seconds");
  });

  it("happy: a real Tollgate sliding-window denial counts from the RateLimit field when Retry-After is absent", async () => {
    const real = await realDenial(
      [{ name: "llm", per: "user", algorithm: "fixed-window", limit: 2, window: 60_000 }],
      Date.UTC(2026, 0, 1, 0, 0, 30),
      3,
    );
    const headers = new Headers(real.headers);
    expect(headers.get("Retry-After")).toBe("30");
    headers.delete("Retry-After");
    const denial = await describeDenial(new Response(await real.text(), { status: 429, headers }));
    expect(denial).toMatchObject({ kind: "rate_limited", retryAfter: 30, reason: "limit_exceeded" });
    expect(denial.message).toBe("Try again in 30 seconds");
  });

  it("happy: a monthly quota names the day it resets, from a real quota denial", async () => {
    const at = Date.UTC(2026, 10, 20, 9, 0, 0);
    const real = await realDenial(
      [{ name: "month", per: "user", algorithm: "quota", period: "month", limit: 1 }],
      at,
      2,
    );
    const denial = await describeDenial(real, {
      now: () => at,
      formatter: createFormatter({ timeZone: "UTC" }),
    });
    expect(denial.kind).toBe("quota_exceeded");
    expect(denial.retryAt?.toISOString()).toBe("2026-12-01T00:00:00.000Z");
    expect(denial.message).toBe("Your monthly allowance resets on 1 December");
  });

  it("happy: a daily quota says daily", async () => {
    const at = Date.UTC(2026, 10, 20, 9, 0, 0);
    const real = await realDenial([{ name: "day", per: "user", algorithm: "quota", period: "day", limit: 1 }], at, 2);
    const denial = await describeDenial(real, { now: () => at, formatter: createFormatter({ timeZone: "UTC" }) });
    expect(denial.message).toBe("Your daily allowance resets on 21 November");
  });

  it("happy: 403 is a forbidden panel, never retryable", async () => {
    const res = new Response(JSON.stringify({ status: 403, reason: "forbidden", detail: "needs operator" }), {
      status: 403,
      headers: problemJson,
    });
    const denial = await describeDenial(res);
    expect(denial).toMatchObject({
      kind: "forbidden",
      retryable: false,
      retryAfter: undefined,
      detail: "needs operator",
    });
    expect(denial.message).toBe("Your role doesn't permit this.");
  });

  it("edge: a request larger than any allowance (x-should-retry: false) is not a countdown", async () => {
    const res = new Response(JSON.stringify({ reason: "cost_exceeds_limit", detail: "too big" }), {
      status: 429,
      headers: { ...problemJson, "x-should-retry": "false" },
    });
    expect(await describeDenial(res)).toMatchObject({ kind: "other", retryable: false, message: "too big" });
  });

  it("edge: Retry-After as an HTTP date", async () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 0);
    const res = new Response(null, { status: 429, headers: { "Retry-After": new Date(now + 90_000).toUTCString() } });
    expect((await describeDenial(res, { now: () => now })).message).toBe("Try again in 1 minute 30 seconds");
  });

  it("happy: axios errors and plain { status, headers, body } objects", async () => {
    const axiosError = {
      isAxiosError: true,
      response: { status: 429, headers: { "retry-after": "61" }, data: { reason: "limit_exceeded" } },
    };
    expect((await describeDenial(axiosError)).message).toBe("Try again in 1 minute 1 second");
    const plain = { status: 403, headers: {}, body: '{"reason":"forbidden"}' };
    expect((await describeDenial(plain)).kind).toBe("forbidden");
  });

  it("happy: an OpenAI-shaped denial from the gateway", async () => {
    const res = new Response(JSON.stringify({ error: { message: "slow down", type: "rate_limit_exceeded" } }), {
      status: 429,
      headers: { "content-type": "application/json", "retry-after": "5" },
    });
    expect(await describeDenial(res)).toMatchObject({ kind: "rate_limited", detail: "slow down", retryAfter: 5 });
  });

  it("bad input: something that is not a response gets a clear TypeError", async () => {
    await expect(describeDenial({} as never)).rejects.toThrow(/fetch Response/);
  });

  it("happy: the formatter is locale-aware and its sentences replaceable", async () => {
    const fr = createFormatter({ locale: "fr", messages: { retryIn: (s) => `Réessayez dans ${fr.duration(s)}` } });
    const res = new Response(null, { status: 429, headers: { "Retry-After": "250" } });
    expect((await describeDenial(res, { formatter: fr })).message).toMatch(/^Réessayez dans 4\sminutes\s10\ssecondes$/);
    const de = createFormatter({ locale: "de", timeZone: "UTC" });
    expect(de.quotaResets(new Date(Date.UTC(2026, 11, 1)), "month")).toContain("1. Dezember");
  });

  it("property: a duration shows at most two adjacent units that add up to no more than the wait", () => {
    const format = createFormatter();
    const size: Record<string, number> = { day: 86_400, hour: 3_600, minute: 60, second: 1 };
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 * 86_400 }), (seconds) => {
        const text = format.duration(seconds);
        const parts = [...text.matchAll(/(\d+) (day|hour|minute|second)s?/g)];
        expect(parts.length).toBeGreaterThanOrEqual(1);
        expect(parts.length).toBeLessThanOrEqual(2);
        const shown = parts.reduce((sum, p) => sum + Number(p[1]) * (size[p[2] as string] as number), 0);
        expect(shown).toBeLessThanOrEqual(seconds);
        // What is left out is less than one of the smaller unit shown (or of the unit below the largest).
        const largest = size[parts[0]?.[2] as string] as number;
        const below = largest === 86_400 ? 3_600 : largest === 3_600 ? 60 : 1;
        expect(seconds - shown).toBeLessThan(below);
      }),
    );
  });
});
