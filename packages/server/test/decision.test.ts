import type { ManualClock } from "@tollgate/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, type Json, SERVICE, startTestServer, type TestServer } from "./helpers.js";

let server: TestServer;
let clock: ManualClock;
beforeAll(async () => {
  server = await startTestServer();
  clock = server.clock as ManualClock;
});
afterAll(() => server.close());

const check = (body: unknown, token = SERVICE) => server.call("POST", "/v1/check", token, body);

async function newKey(plan: string, extra: Record<string, unknown> = {}) {
  const res = await server.call("POST", "/v1/admin/keys", ADMIN, { owner: "org:acme", plan, ...extra });
  expect(res.status).toBe(201);
  return res.body as { id: string; secret: string };
}

describe("case 1: per-user LLM budget (ops_triage, at most 20 in any rolling hour: sliding log)", () => {
  it("happy: 20 allowed, the 21st denied with Retry-After <= 3600, another user on the same IP allowed", async () => {
    // The clock starts exactly on the hour: the worst case for a sliding window's Retry-After.
    const subject = { user: "op-1", ip: "198.51.100.7" };
    for (let i = 0; i < 20; i++) {
      const res = await check({ subject, category: "ops_triage" });
      expect(res.status).toBe(200);
      expect(res.body.allowed).toBe(true);
    }
    const denied = await check({ subject, category: "ops_triage" });
    expect(denied.status).toBe(200);
    expect(denied.body.allowed).toBe(false);
    expect(denied.body.reason).toBe("limit_exceeded");
    const retry = Number(denied.body.headers["Retry-After"]);
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(3600);
    expect(denied.body.retryAfter).toBe(retry);
    const other = await check({ subject: { user: "op-2", ip: "198.51.100.7" }, category: "ops_triage" });
    expect(other.body.allowed).toBe(true);
    clock.advance(2 * 3600 * 1000);
    expect((await check({ subject, category: "ops_triage" })).body.allowed).toBe(true);
  });

  it("no silent pass: a request without a user is denied subject_missing, counts nothing, and is a metric", async () => {
    for (let i = 0; i < 3; i++) {
      const res = await check({ subject: { project: "p" }, category: "ops_triage" });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        allowed: false,
        reason: "subject_missing",
        missing: [{ limit: "llm-hour", field: "user" }],
        limits: [],
      });
      expect(res.body.retryAfter).toBeUndefined();
      expect(res.body.headers["x-should-retry"]).toBe("false");
    }
    const metrics = await server.app.inject({ method: "GET", url: "/metrics" });
    expect(metrics.body).toContain(
      'tollgate_subject_missing_total{limit="llm-hour",action="deny",category="ops_triage"} 3',
    );
  });

  it("exact rolling hour: at most 20 in any hour; the wait is when the oldest charge leaves, and every reset says so", async () => {
    const subject = { user: "op-roll", ip: "198.51.100.8" };
    const started = clock.now();
    for (let i = 0; i < 20; i++) {
      expect((await check({ subject, category: "ops_triage" })).body.allowed).toBe(true);
      clock.advance(60_000); // one a minute
    }
    const denied = await check({ subject, category: "ops_triage" });
    expect(denied.body).toMatchObject({ allowed: false, reason: "limit_exceeded" });
    // The first charge leaves the window an hour after it was made: 40 minutes from now.
    const waited = started + 3_600_000 - clock.now();
    expect(denied.body.retryAfter).toBe(waited / 1000);
    const limit = denied.body.limits[0];
    expect(limit.reset).toBeGreaterThanOrEqual(denied.body.retryAfter);
    const t = Number(/;t=(\d+)/.exec(denied.body.headers.RateLimit)?.[1]);
    expect(t).toBeGreaterThanOrEqual(denied.body.retryAfter);
    clock.advance(denied.body.retryAfter * 1000 - 1);
    expect((await check({ subject, category: "ops_triage" })).body.allowed).toBe(false);
    clock.advance(1);
    expect((await check({ subject, category: "ops_triage" })).body.allowed).toBe(true);
    expect((await check({ subject, category: "ops_triage" })).body.allowed).toBe(false);
  });

  it("security: an agent key without the llm scope is forbidden; a key with it is allowed", async () => {
    const agent = await newKey("free", { name: "agent" });
    const denied = await check({ subject: { apiKey: agent.secret, user: "op-3" }, category: "ops_triage" });
    expect(denied.body).toMatchObject({ allowed: false, reason: "forbidden" });
    const human = await newKey("free", { scopes: ["llm"] });
    const allowed = await check({ subject: { apiKey: human.secret, user: "op-3" }, category: "ops_triage" });
    expect(allowed.body.allowed).toBe(true);
  });
});

describe("case 2: per-organisation monitoring (never blocks)", () => {
  it("happy: the 16th llm_call in a minute is allowed and marked exceeded on the monitor", async () => {
    let last: Json;
    for (let i = 0; i < 16; i++) last = (await check({ subject: { org: "monitor-org" }, category: "llm_call" })).body;
    expect(last.allowed).toBe(true);
    expect(last.limits[0]).toMatchObject({ name: "org-minute", mode: "monitor", exceeded: true, limit: 15 });
  });
});

describe("case 3: API-key tiers", () => {
  it("happy: a free key gets 10 per minute and its month counter shows on /v1/usage", async () => {
    const key = await newKey("free");
    for (let i = 0; i < 10; i++) expect((await check({ subject: { apiKey: key.secret } })).body.allowed).toBe(true);
    const denied = await check({ subject: { apiKey: key.secret } });
    expect(denied.body).toMatchObject({ allowed: false, reason: "limit_exceeded", plan: "free", keyId: key.id });
    expect(denied.body.headers["RateLimit-Policy"]).toContain('"month";q=1000');
    const usage = await server.call("GET", "/v1/usage", SERVICE, undefined, { "x-api-key": key.secret });
    expect(usage.status).toBe(200);
    expect(usage.body.plan).toBe("free");
    const month = usage.body.limits.find((l: Json) => l.name === "month");
    expect(month).toMatchObject({ used: 10, limit: 1000, remaining: 990 });
    const byId = await server.call("GET", `/v1/usage?key=${key.id}&plan=free`, SERVICE);
    expect(byId.body.limits.find((l: Json) => l.name === "month").used).toBe(10);
    clock.advance(60_000);
    expect((await check({ subject: { apiKey: key.secret } })).body.allowed).toBe(true);
  });

  it("security: unknown, revoked and expired keys give invalid_key and count nothing", async () => {
    expect((await check({ subject: { apiKey: "tg_live_nope" } })).body).toMatchObject({
      allowed: false,
      reason: "invalid_key",
    });
    const key = await newKey("basic");
    await server.call("DELETE", `/v1/admin/keys/${key.id}`, ADMIN);
    expect((await check({ subject: { apiKey: key.secret } })).body.reason).toBe("invalid_key");
    const soon = new Date(clock.now() + 1000).toISOString();
    const expiring = await newKey("basic", { expiresAt: soon });
    expect((await check({ subject: { apiKey: expiring.secret } })).body.allowed).toBe(true);
    clock.advance(2000);
    expect((await check({ subject: { apiKey: expiring.secret } })).body.reason).toBe("invalid_key");
  });

  it("happy: the key's plan wins over a plan named in the request", async () => {
    const key = await newKey("free");
    const res = await check({ subject: { apiKey: key.secret }, plan: "enterprise" });
    expect(res.body.plan).toBe("free");
  });

  it("happy: per-key overrides replace a plan limit for that key only", async () => {
    const key = await newKey("free");
    const set = await server.call("PUT", `/v1/admin/keys/${key.id}/overrides`, ADMIN, {
      limits: [{ name: "minute", per: "key", algorithm: "fixed-window", limit: 2, window: "1m" }],
    });
    expect(set.status).toBe(200);
    expect((await check({ subject: { apiKey: key.secret } })).body.allowed).toBe(true);
    expect((await check({ subject: { apiKey: key.secret } })).body.allowed).toBe(true);
    const third = await check({ subject: { apiKey: key.secret } });
    expect(third.body).toMatchObject({ allowed: false, plan: "free" });
  });
});

describe("case 4: anonymous 1/day, signed-in 3/day, bring your own key", () => {
  it("happy: anonymous gets 1 per day, signed-in 3, byok bypasses", async () => {
    const anon = { subject: { ip: "203.0.113.50" }, category: "generate" };
    expect((await check(anon)).body).toMatchObject({ allowed: true, plan: "anonymous" });
    const denied = await check(anon);
    expect(denied.body.allowed).toBe(false);
    expect(Number(denied.body.headers["Retry-After"])).toBeLessThanOrEqual(86_400);
    expect((await check({ ...anon, byok: true })).body.allowed).toBe(true);
    const user = { subject: { user: "gen-1", ip: "203.0.113.50" }, category: "generate" };
    for (let i = 0; i < 3; i++) expect((await check(user)).body).toMatchObject({ allowed: true, plan: "signed-in" });
    expect((await check(user)).body.allowed).toBe(false);
    expect((await check({ ...user, byok: true })).body.allowed).toBe(true);
    const usage = await server.call("GET", "/v1/usage?user=gen-1&category=generate", SERVICE);
    expect(usage.body.limits[0]).toMatchObject({ used: 3, limit: 3, remaining: 0 });
    const again = await server.call("GET", "/v1/usage?user=gen-1&category=generate", SERVICE);
    expect(again.body.limits[0].used).toBe(3);
  });
});

describe("POST /v1/check", () => {
  it("happy: dryRun and cost 0 evaluate without charging", async () => {
    const subject = { user: "dry-1" };
    await check({ subject, category: "generate", dryRun: true });
    await check({ subject, category: "generate", cost: 0 });
    const usage = await server.call("GET", "/v1/usage?user=dry-1&category=generate", SERVICE);
    expect(usage.body.limits[0].used).toBe(0);
  });

  it("error: bad input is a 400 problem naming the field, and nothing is counted", async () => {
    const subject = { user: "bad-1" };
    const cases: [unknown, string][] = [
      [{ subject, category: "generate", cost: -1 }, "cost"],
      [{ subject, category: "generate", cost: 1.5 }, "cost"],
      [{ subject, category: "generate", cost: "NaN" }, "cost"],
      [{ subject, category: "generate", cost: 1e13 }, "cost"],
      [{ subject, category: "generate", surprise: true }, "surprise"],
      [{ subject: { ...subject, nick: "x" }, category: "generate" }, "subject.nick"],
      [{ subject: { user: "x".repeat(10_000) }, category: "generate" }, "subject.user"],
      [{ subject: { user: 42 }, category: "generate" }, "subject.user"],
      [{ subject, category: "nope" }, "category"],
      [{ subject, category: "generate", plan: "platinum" }, "plan"],
      [{ category: "generate" }, "subject"],
      [{ subject, category: "generate", byok: "yes" }, "byok"],
    ];
    for (const [body, field] of cases) {
      const res = await check(body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(res.headers["content-type"]).toContain("application/problem+json");
      expect(res.body.field).toBe(field);
    }
    const untyped = await check("{not json");
    expect(untyped.status).toBe(415);
    const raw = await server.app.inject({
      method: "POST",
      url: "/v1/check",
      headers: { authorization: `Bearer ${SERVICE}`, "content-type": "application/json" },
      payload: "{not json",
    });
    expect(raw.statusCode).toBe(400);
    expect(JSON.parse(raw.body).field).toBe("body");
    const huge = await check({ subject: { user: "big" }, padding: "x".repeat(200_000) });
    expect(huge.status).toBe(413);
    const usage = await server.call("GET", "/v1/usage?user=bad-1&category=generate", SERVICE);
    expect(usage.body.limits[0].used).toBe(0);
  });

  it("security: no token is 401, a bad token is 401, an admin-API readonly token is 403", async () => {
    expect((await check({ subject: { user: "a" } }, "")).status).toBe(401);
    expect((await check({ subject: { user: "a" } }, "wrong-token-xxxxxxxx")).status).toBe(401);
    const ro = await server.call("POST", "/v1/admin/tokens", ADMIN, { name: "viewer", role: "readonly" });
    const res = await check({ subject: { user: "a" } }, ro.body.token);
    expect(res.status).toBe(403);
    expect(res.headers["content-type"]).toContain("application/problem+json");
  });
});

describe("POST /v1/check/batch", () => {
  it("happy: decides several requests at once", async () => {
    const res = await server.call("POST", "/v1/check/batch", SERVICE, {
      requests: [
        { subject: { ip: "192.0.2.1" }, category: "generate" },
        { subject: { ip: "192.0.2.1" }, category: "generate" },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.decisions.map((d: Json) => d.allowed)).toEqual([true, false]);
  });

  it("error: one bad request counts none and names requests[i].field", async () => {
    const res = await server.call("POST", "/v1/check/batch", SERVICE, {
      requests: [
        { subject: { ip: "192.0.2.2" }, category: "generate" },
        { subject: { ip: "192.0.2.2" }, category: "nope" },
      ],
    });
    expect(res.status).toBe(400);
    expect(res.body.field).toBe("requests[1].category");
    const usage = await server.call("GET", "/v1/usage?ip=192.0.2.2&category=generate", SERVICE);
    expect(usage.body.limits[0].used).toBe(0);
  });
});

describe("GET /v1/usage", () => {
  it("error: unknown query fields are a 400 naming them", async () => {
    const res = await server.call("GET", "/v1/usage?user=u&apiKey=secret", SERVICE);
    expect(res.status).toBe(400);
    expect(res.body.field).toBe("apiKey");
  });
});
