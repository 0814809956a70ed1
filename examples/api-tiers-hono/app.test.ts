import { manualClock } from "@tollgate/core";
import { parseList } from "structured-headers";
import { describe, expect, it } from "vitest";
import { createApp } from "./src/app.js";

const env = { incoming: { socket: { remoteAddress: "203.0.113.5" } } };
const auth = (secret: string, method = "POST") => ({ method, headers: { authorization: `Bearer ${secret}` } });

describe("use case 3: API-key tiers", () => {
  it("free tier: 10 per minute, then 429; headers carry minute and month remaining", async () => {
    const clock = manualClock(Date.UTC(2026, 0, 10, 12, 0, 0));
    const { app } = createApp({ clock });
    const first = await app.request("/v1/complete", auth("tg_free_demo"), env);
    expect(first.status).toBe(200);
    const state = new Map(parseList(first.headers.get("ratelimit") ?? "").map(([name, params]) => [name, params]));
    expect(state.get("minute")?.get("r")).toBe(9);
    expect(state.get("month")?.get("r")).toBe(999);
    for (let i = 0; i < 9; i++) expect((await app.request("/v1/complete", auth("tg_free_demo"), env)).status).toBe(200);
    const denied = await app.request("/v1/complete", auth("tg_free_demo"), env);
    expect(denied.status).toBe(429);
    expect(Number(denied.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // The denied request spent nothing on the month either.
    const status = (await (await app.request("/v1/status", auth("tg_free_demo", "GET"), env)).json()) as {
      limits: { name: string }[];
    };
    expect(status).toMatchObject({ tier: "free" });
    expect(status.limits.find((l: { name: string }) => l.name === "month")).toMatchObject({ used: 10, remaining: 990 });
  });

  it("the monthly allowance answers 429 with Retry-After until the 1st of next month", async () => {
    const clock = manualClock(Date.UTC(2026, 0, 31, 23, 59, 0));
    const { app } = createApp({ clock, tiers: { free: { month: 3, minute: 10 } } });
    for (let i = 0; i < 3; i++) await app.request("/v1/complete", auth("tg_free_demo"), env);
    const denied = await app.request("/v1/complete", auth("tg_free_demo"), env);
    expect(denied.status).toBe(429);
    expect(denied.headers.get("retry-after")).toBe("60");
    expect(await denied.json()).toMatchObject({ reason: "quota_exceeded", violatedPolicies: ["month"] });
    clock.advance(60_000);
    expect((await app.request("/v1/complete", auth("tg_free_demo"), env)).status).toBe(200);
  });

  it("premium tiers burst above the steady rate; per-key overrides apply", async () => {
    const clock = manualClock(Date.UTC(2026, 0, 10));
    const { app } = createApp({
      clock,
      tiers: { pro: { month: 1000, minute: 2, burst: 4 } },
      keys: {
        k1: { id: "k1", tier: "pro", active: true },
        k2: { id: "k2", tier: "pro", active: true, override: { month: 1000, minute: 1 } },
      },
    });
    for (let i = 0; i < 4; i++) expect((await app.request("/v1/complete", auth("k1"), env)).status).toBe(200);
    expect((await app.request("/v1/complete", auth("k1"), env)).status).toBe(429);
    expect((await app.request("/v1/complete", auth("k2"), env)).status).toBe(200);
    expect((await app.request("/v1/complete", auth("k2"), env)).status).toBe(429);
  });

  it("unknown and revoked keys get 401", async () => {
    const { app } = createApp({ clock: manualClock(0) });
    expect((await app.request("/v1/complete", auth("nope"), env)).status).toBe(401);
    expect((await app.request("/v1/complete", auth("tg_revoked_demo"), env)).status).toBe(401);
  });
});
