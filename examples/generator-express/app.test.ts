import { manualClock } from "@tollgate/core";
import request from "supertest";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createApp } from "./src/app.js";

const START = Date.UTC(2026, 0, 1, 18, 0, 0);
let page = 0;
const generate = (url: string, user?: string, headers: Record<string, string> = {}) => {
  const req = request(app).post("/api/generate").send({ url });
  if (user) req.set("Authorization", `Bearer session-${user}`);
  for (const [name, value] of Object.entries(headers)) req.set(name, value);
  return req;
};
let app = createApp();
let clock = manualClock(START);

afterEach(() => vi.restoreAllMocks());

function fresh() {
  clock = manualClock(START);
  app = createApp({ clock });
}
const newUrl = () => `https://example.com/page-${++page}`;

describe("use case 4: daily quotas, BYOK, usage and cache", () => {
  it("anonymous: 1 per day, then 429 with Retry-After until midnight UTC", async () => {
    fresh();
    await generate(newUrl()).expect(200);
    const denied = await generate(newUrl());
    expect(denied.status).toBe(429);
    expect(denied.headers["retry-after"]).toBe(String(6 * 3600));
    clock.advance(6 * 3600 * 1000);
    await generate(newUrl()).expect(200);
  });

  it("signed-in: 3 per day, separate from the anonymous budget", async () => {
    fresh();
    await generate(newUrl()).expect(200);
    for (let i = 0; i < 3; i++) await generate(newUrl(), "ann").expect(200);
    expect((await generate(newUrl(), "ann")).status).toBe(429);
    await generate(newUrl(), "ben").expect(200);
  });

  it("GET /api/usage reports without consuming, for anonymous and signed-in callers", async () => {
    fresh();
    for (let i = 0; i < 3; i++) {
      expect((await request(app).get("/api/usage")).body).toMatchObject({ used: 0, limit: 1, remaining: 1 });
    }
    await generate(newUrl()).expect(200);
    expect((await request(app).get("/api/usage")).body).toMatchObject({ used: 1, limit: 1, remaining: 0 });
    const signedIn = await request(app).get("/api/usage").set("Authorization", "Bearer session-cy");
    expect(signedIn.body).toMatchObject({ used: 0, limit: 3, reset: 6 * 3600 });
  });

  it("BYOK via X-OpenAI-Key bypasses the quota; the key is used once and never logged", async () => {
    const lines: string[] = [];
    for (const level of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
    }
    const seen: (string | undefined)[] = [];
    clock = manualClock(START);
    app = createApp({
      clock,
      generate: async (p, key) => {
        seen.push(key);
        return `ok ${p.length}`;
      },
    });
    await generate(newUrl()).expect(200);
    const secret = "sk-proj-my-own-key";
    for (let i = 0; i < 3; i++) {
      const res = await generate(newUrl(), undefined, { "X-OpenAI-Key": secret });
      expect(res.status).toBe(200);
      expect(res.text).not.toContain(secret);
    }
    expect(seen).toEqual([undefined, secret, secret, secret]);
    expect((await generate(newUrl())).status).toBe(429);
    expect(lines.join("\n")).not.toContain(secret);
  });

  it("caches results for an hour: hit and age reported, no quota spent, force_refresh recomputes", async () => {
    fresh();
    const url = newUrl();
    expect((await generate(url)).body).toMatchObject({ cache_hit: false, cache_age_seconds: 0 });
    clock.advance(120_000);
    const hit = await generate(url);
    expect(hit.status).toBe(200);
    expect(hit.body).toMatchObject({ cache_hit: true, cache_age_seconds: 120 });
    // force_refresh is a real call: the anonymous quota (1/day) is already spent.
    const forced = await request(app).post("/api/generate").send({ url, force_refresh: true });
    expect(forced.status).toBe(429);
    clock.advance(3600_000);
    expect((await generate(url)).status).toBe(429);
  });

  it("keeps working with no store configured: no limits, no cache", async () => {
    app = createApp({ store: null });
    const url = newUrl();
    for (let i = 0; i < 5; i++) expect((await generate(url)).body).toMatchObject({ cache_hit: false });
    expect((await request(app).get("/api/usage")).body).toEqual({ limits: [] });
  });
});
