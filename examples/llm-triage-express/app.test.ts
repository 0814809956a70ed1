import { manualClock } from "@tollgate/core";
import request from "supertest";
import { describe, expect, it } from "vitest";
import { createApp } from "./src/app.js";

const START = Date.UTC(2026, 0, 1, 12, 0, 0);
const call = (app: ReturnType<typeof createApp>, token: string) =>
  request(app).post("/api/ai/triage").set("Authorization", `Bearer ${token}`).send({ incident: 1 });

describe("use case 1: per-user LLM budget", () => {
  // The use case asks for Retry-After in 1..60 s for a 60 s window, and at most the limit in any
  // rolling window: a sliding log answers exactly when the oldest call leaves the window.
  it("limit 2 in 60 s: the third call is 429 with Retry-After = when the oldest call leaves the window", async () => {
    const clock = manualClock(START);
    const app = createApp({ clock, env: { LLM_RATE_LIMIT_REQUESTS: "2", LLM_RATE_LIMIT_WINDOW: "60" } });
    await call(app, "session-alice").expect(200);
    clock.advance(15_000);
    // Same user through an API key: same budget.
    await call(app, "key-alice").expect(200);
    clock.advance(5_000);
    const denied = await call(app, "session-alice");
    expect(denied.status).toBe(429);
    // The first call was 20 s ago: it leaves the 60 s window in 40 s, exactly.
    expect(denied.headers["retry-after"]).toBe("40");
    expect(JSON.parse(denied.text)).toMatchObject({ status: 429, retryAfter: 40, violatedPolicies: ["llm"] });
    expect(denied.headers.ratelimit).toBe('"llm";r=0;t=40');
    // Another operator behind the same NAT is not affected.
    await call(app, "session-root").expect(200);
    clock.advance(39_999);
    await call(app, "session-alice").expect(429);
    clock.advance(1);
    await call(app, "session-alice").expect(200);
    // The second call is still in the window: the next one waits for it (15 s later than the first).
    const again = await call(app, "session-alice");
    expect(again.status).toBe(429);
    expect(again.headers["retry-after"]).toBe("15");
  });

  it("whatever the arrival pattern, Retry-After stays within 1..60 for a 60 s window and waiting it succeeds", async () => {
    const clock = manualClock(START + 30_000);
    const app = createApp({ clock, env: { LLM_RATE_LIMIT_REQUESTS: "2", LLM_RATE_LIMIT_WINDOW: "60" } });
    for (const gap of [0, 59_000, 1_000, 30_000, 0, 45_000, 7_000]) {
      clock.advance(gap);
      const res = await call(app, "session-alice");
      if (res.status === 200) continue;
      expect(res.status).toBe(429);
      const retryAfter = Number(res.headers["retry-after"]);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      clock.advance(retryAfter * 1000);
      await call(app, "session-alice").expect(200);
    }
  });

  it("a request that reaches the limiter without a user is refused (400 subject_missing), never let through", async () => {
    const app = createApp({ clock: manualClock(START), env: {} });
    const res = await request(app).post("/api/ai/triage").set("Authorization", "Bearer session-anon").send({});
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toMatchObject({ reason: "subject_missing", field: "subject.user" });
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
