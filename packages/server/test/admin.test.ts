import type { ManualClock } from "@tollgate/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, type Json, SERVICE, startTestServer, type TestServer } from "./helpers.js";

let server: TestServer;
const tokens: Record<string, string> = {};
beforeAll(async () => {
  server = await startTestServer();
  for (const role of ["operator", "readonly"]) {
    const res = await server.call("POST", "/v1/admin/tokens", ADMIN, { name: `t-${role}`, role });
    expect(res.status).toBe(201);
    tokens[role] = res.body.token;
  }
  tokens.admin = ADMIN;
  tokens.service = SERVICE;
});
afterAll(() => server.close());

const limit = { name: "minute", per: "key", algorithm: "fixed-window", limit: 5, window: "1m" };

/** Every admin route with a valid body, and the least role that may call it. */
const ROUTES: { method: string; url: string; body?: unknown; minimum: "readonly" | "operator" | "admin" }[] = [
  { method: "GET", url: "/v1/admin/plans", minimum: "readonly" },
  { method: "PUT", url: "/v1/admin/plans/matrix", body: { limits: [limit] }, minimum: "admin" },
  { method: "GET", url: "/v1/admin/categories", minimum: "readonly" },
  { method: "PUT", url: "/v1/admin/categories/matrix", body: { limits: [] }, minimum: "admin" },
  { method: "GET", url: "/v1/admin/keys", minimum: "readonly" },
  { method: "GET", url: "/v1/admin/keys/KEY", minimum: "readonly" },
  { method: "POST", url: "/v1/admin/keys", body: { owner: "org:matrix", plan: "free" }, minimum: "operator" },
  { method: "PUT", url: "/v1/admin/keys/KEY/overrides", body: { limits: [] }, minimum: "operator" },
  { method: "POST", url: "/v1/admin/keys/KEY/rotate", minimum: "operator" },
  { method: "DELETE", url: "/v1/admin/keys/KEY", minimum: "operator" },
  { method: "GET", url: "/v1/admin/tokens", minimum: "admin" },
  { method: "POST", url: "/v1/admin/tokens", body: { name: "m", role: "readonly" }, minimum: "admin" },
  { method: "POST", url: "/v1/admin/counters/reset", body: { subject: "user:u-1" }, minimum: "operator" },
  { method: "GET", url: "/v1/admin/usage/top?period=2026-03", minimum: "readonly" },
  { method: "GET", url: "/v1/admin/usage/history?subject=user:u-1", minimum: "readonly" },
  { method: "GET", url: "/v1/admin/usage/summary?period=2026-03", minimum: "readonly" },
  { method: "GET", url: "/v1/admin/usage/export?period=2026-03&format=csv", minimum: "readonly" },
  { method: "GET", url: "/v1/admin/usage/near-limit?ratio=0.8", minimum: "readonly" },
  { method: "GET", url: "/v1/admin/usage/subject?subject=user:u-1", minimum: "readonly" },
  { method: "GET", url: "/v1/admin/alerts", minimum: "readonly" },
  { method: "GET", url: "/v1/admin/whoami", minimum: "readonly" },
  { method: "GET", url: "/v1/admin/audit", minimum: "admin" },
];
const RANK = { service: 0, readonly: 1, operator: 2, admin: 3 } as const;

describe("authz matrix: no token, bad token, service, readonly, operator, admin x every admin route", () => {
  for (const route of ROUTES) {
    it(`security: ${route.method} ${route.url} needs ${route.minimum}`, async () => {
      // Each route starts a fresh auth-failure window (the throttle would otherwise answer 429).
      (server.clock as ManualClock).advance(120_000);
      const url = async () => {
        if (!route.url.includes("KEY")) return route.url;
        const key = await server.call("POST", "/v1/admin/keys", ADMIN, { owner: "org:matrix", plan: "free" });
        return route.url.replace("KEY", key.body.id);
      };
      const none = await server.call(route.method, await url(), undefined, route.body);
      expect(none.status).toBe(401);
      expect(none.headers["content-type"]).toContain("application/problem+json");
      expect(none.body.detail).toMatch(/Authorization: Bearer/);
      const bad = await server.call(route.method, await url(), "not-a-real-token-at-all", route.body);
      expect(bad.status).toBe(401);
      for (const role of ["service", "readonly", "operator", "admin"] as const) {
        const res = await server.call(route.method, await url(), tokens[role], route.body);
        if (RANK[role] >= RANK[route.minimum]) {
          expect(res.status, `${role} ${JSON.stringify(res.body).slice(0, 200)}`).toBeLessThan(300);
        } else {
          expect(res.status, role).toBe(403);
          expect(res.headers["content-type"]).toContain("application/problem+json");
          expect(res.body.detail).toContain(route.minimum);
        }
      }
    });
  }
});

describe("plans and categories", () => {
  it("happy: a plan edit applies to the next decision", async () => {
    await server.call("PUT", "/v1/admin/plans/tiny", ADMIN, {
      limits: [{ name: "minute", per: "user", algorithm: "fixed-window", limit: 1, window: "1m" }],
    });
    const first = await server.call("POST", "/v1/check", SERVICE, { subject: { user: "p-1" }, plan: "tiny" });
    expect(first.body.allowed).toBe(true);
    expect(
      (await server.call("POST", "/v1/check", SERVICE, { subject: { user: "p-1" }, plan: "tiny" })).body.allowed,
    ).toBe(false);
    await server.call("PUT", "/v1/admin/plans/tiny", ADMIN, {
      limits: [{ name: "minute", per: "user", algorithm: "fixed-window", limit: 3, window: "1m" }],
    });
    expect(
      (await server.call("POST", "/v1/check", SERVICE, { subject: { user: "p-1" }, plan: "tiny" })).body.allowed,
    ).toBe(true);
    const list = await server.call("GET", "/v1/admin/plans", tokens.readonly);
    expect(list.body.plans.find((p: Json) => p.name === "tiny").limits[0].limit).toBe(3);
  });

  it("error: an invalid limit is a 400 naming its path, and the old plan stays", async () => {
    const res = await server.call("PUT", "/v1/admin/plans/free", ADMIN, {
      limits: [{ name: "minute", per: "key", algorithm: "fixed-window", limit: -5, window: "1m" }],
    });
    expect(res.status).toBe(400);
    expect(res.body.field).toBe("limits[0].limit");
    const list = await server.call("GET", "/v1/admin/plans", ADMIN);
    expect(list.body.plans.find((p: Json) => p.name === "free").limits[0].limit).toBe(10);
  });

  it("happy: a category's requiredScope can be set", async () => {
    const res = await server.call("PUT", "/v1/admin/categories/secret_stuff", ADMIN, {
      limits: [],
      requiredScope: "vip",
    });
    expect(res.status).toBe(200);
    const denied = await server.call("POST", "/v1/check", SERVICE, {
      subject: { user: "s" },
      category: "secret_stuff",
      scopes: [],
    });
    expect(denied.body.reason).toBe("forbidden");
  });
});

describe("keys", () => {
  it("happy: create shows the secret once; list never shows secrets; rotate replaces it", async () => {
    const created = await server.call("POST", "/v1/admin/keys", tokens.operator, {
      owner: "org:k",
      plan: "pro",
      name: "ci",
    });
    expect(created.body.secret).toMatch(/^tg_live_/);
    const list = await server.call("GET", "/v1/admin/keys?owner=org:k", tokens.readonly);
    expect(JSON.stringify(list.body)).not.toContain(created.body.secret);
    expect(list.body.keys[0]).toMatchObject({ id: created.body.id, plan: "pro", status: "active" });
    const rotated = await server.call("POST", `/v1/admin/keys/${created.body.id}/rotate`, tokens.operator);
    expect(rotated.body.secret).not.toBe(created.body.secret);
    const old = await server.call("POST", "/v1/check", SERVICE, { subject: { apiKey: created.body.secret } });
    expect(old.body.reason).toBe("invalid_key");
    const fresh = await server.call("POST", "/v1/check", SERVICE, { subject: { apiKey: rotated.body.secret } });
    expect(fresh.body).toMatchObject({ allowed: true, keyId: created.body.id });
  });

  it("error: unknown plan, bad owner and unknown key id are clear 4xx", async () => {
    expect((await server.call("POST", "/v1/admin/keys", ADMIN, { owner: "org:x", plan: "gold" })).body.field).toBe(
      "plan",
    );
    expect((await server.call("POST", "/v1/admin/keys", ADMIN, { owner: "acme", plan: "free" })).body.field).toBe(
      "owner",
    );
    expect((await server.call("DELETE", "/v1/admin/keys/key_missing", ADMIN)).status).toBe(404);
  });
});

describe("counters, usage, audit", () => {
  it("happy: an operator resets a subject's counters", async () => {
    const req = { subject: { ip: "192.0.2.99" }, category: "generate" };
    await server.call("POST", "/v1/check", SERVICE, req);
    expect((await server.call("POST", "/v1/check", SERVICE, req)).body.allowed).toBe(false);
    const reset = await server.call("POST", "/v1/admin/counters/reset", tokens.operator, { subject: "ip:192.0.2.99" });
    expect(reset.status).toBe(200);
    expect((await server.call("POST", "/v1/check", SERVICE, req)).body.allowed).toBe(true);
  });

  it("happy: near-limit, top and history read the usage ledger", async () => {
    const key = await server.call("POST", "/v1/admin/keys", ADMIN, { owner: "org:heavy", plan: "free" });
    for (let i = 0; i < 9; i++)
      await server.call("POST", "/v1/check", SERVICE, { subject: { apiKey: key.body.secret } });
    await server.ctx.ledger.writer?.flush();
    const near = await server.call("GET", "/v1/admin/usage/near-limit?ratio=0.008", tokens.readonly);
    expect(near.body.subjects).toContainEqual(
      expect.objectContaining({ subject: `key:${key.body.id}`, limit: "month", used: 9, capacity: 1000, plan: "free" }),
    );
    const top = await server.call("GET", "/v1/admin/usage/top?limit=month&n=1", tokens.readonly);
    expect(top.body).toMatchObject({ period: "2026-03", limit: "month" });
    expect(top.body.subjects[0]).toMatchObject({ subject: `key:${key.body.id}`, used: 9 });
    const history = await server.call("GET", `/v1/admin/usage/history?subject=key:${key.body.id}`, tokens.readonly);
    expect(history.status).toBe(200);
    expect(history.body.points).toContainEqual({
      start: "2026-03-10T00:00:00.000Z",
      limit: "month",
      category: "",
      used: 9,
    });
  });

  it("happy: every admin change is in the audit log, without secrets", async () => {
    const key = await server.call("POST", "/v1/admin/keys", ADMIN, { owner: "org:audited", plan: "free" });
    const audit = await server.call("GET", "/v1/admin/audit?limit=500", ADMIN);
    const actions = audit.body.entries.map((e: Json) => e.action);
    for (const action of [
      "key.create",
      "key.rotate",
      "key.revoke",
      "plan.put",
      "category.put",
      "token.create",
      "counters.reset",
    ]) {
      expect(actions).toContain(action);
    }
    expect(JSON.stringify(audit.body)).not.toContain(key.body.secret);
  });
});

describe("settle", () => {
  it("happy: settling replaces the estimate; a second settle is refused; a forged id is a 400", async () => {
    await server.call("PUT", "/v1/admin/categories/tokens_cat", ADMIN, {
      limits: [
        { name: "tokens-min", per: "user", algorithm: "fixed-window", limit: 1000, window: "1m", unit: "tokens" },
      ],
    });
    const decided = await server.call("POST", "/v1/check", SERVICE, {
      subject: { user: "s-1" },
      category: "tokens_cat",
      cost: 500,
    });
    expect(decided.body.limits[0].remaining).toBe(500);
    const settled = await server.call("POST", "/v1/settle", SERVICE, {
      decisionId: decided.body.decisionId,
      cost: 120,
    });
    expect(settled.body).toMatchObject({ settled: true, delta: -380, applied: true });
    const usage = await server.call("GET", "/v1/usage?user=s-1&category=tokens_cat", SERVICE);
    expect(usage.body.limits[0].used).toBe(120);
    const again = await server.call("POST", "/v1/settle", SERVICE, { decisionId: decided.body.decisionId, cost: 10 });
    expect(again.status).toBe(409);
    const forged = `${decided.body.decisionId.slice(0, -4)}AAAA`;
    const bad = await server.call("POST", "/v1/settle", SERVICE, { decisionId: forged, cost: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe("decisionId");
  });
});

describe("auth throttling", () => {
  it("security: failed authentications from one IP are throttled with 429", async () => {
    let last = 0;
    for (let i = 0; i < 25; i++) {
      const res = await server.app.inject({
        method: "GET",
        url: "/v1/admin/plans",
        headers: { authorization: "Bearer nope-nope-nope" },
        remoteAddress: "10.9.9.9",
      });
      last = res.statusCode;
    }
    expect(last).toBe(429);
    const other = await server.app.inject({
      method: "GET",
      url: "/v1/admin/plans",
      headers: { authorization: `Bearer ${ADMIN}` },
      remoteAddress: "10.9.9.9",
    });
    expect(other.statusCode).toBe(200);
  });
});
