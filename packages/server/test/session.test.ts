import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, SERVICE, startTestServer, type TestServer } from "./helpers.js";

const CSRF = { "x-tollgate-csrf": "1" };
let server: TestServer;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  server = await startTestServer();
  for (const role of ["operator", "readonly"]) {
    const res = await server.call("POST", "/v1/admin/tokens", ADMIN, { name: `s-${role}`, role });
    tokens[role] = res.body.token;
  }
  tokens.admin = ADMIN;
});
afterAll(() => server.close());

/** Signs in and answers the `name=value` part of the cookie. */
async function signIn(token: string) {
  const res = await server.call("POST", "/v1/session", undefined, { token }, CSRF);
  expect(res.status).toBe(200);
  const setCookie = String(res.headers["set-cookie"]);
  return { res, setCookie, cookie: setCookie.split(";")[0] as string };
}

describe("dashboard sessions", () => {
  it("happy: a token of each admin role opens an HttpOnly SameSite=Strict session that stands in for the bearer token", async () => {
    for (const role of ["admin", "operator", "readonly"]) {
      const { res, setCookie, cookie } = await signIn(tokens[role] as string);
      expect(res.body).toMatchObject({ role });
      expect(setCookie).toMatch(/HttpOnly/);
      expect(setCookie).toMatch(/SameSite=Strict/);
      expect(setCookie).toMatch(/Path=\//);
      expect(setCookie).not.toContain(tokens[role]);
      const me = await server.call("GET", "/v1/admin/whoami", undefined, undefined, { cookie });
      expect(me.body).toEqual({ name: expect.any(String), role });
      expect((await server.call("GET", "/v1/session", undefined, undefined, { cookie })).body.role).toBe(role);
    }
  });

  it("security: a change made with the cookie needs the CSRF header and a same-origin Origin", async () => {
    const { cookie } = await signIn(tokens.operator as string);
    const body = { subject: "user:u-1" };
    const bare = await server.call("POST", "/v1/admin/counters/reset", undefined, body, { cookie });
    expect(bare.status).toBe(403);
    expect(bare.body.detail).toContain("x-tollgate-csrf");
    const foreign = await server.call("POST", "/v1/admin/counters/reset", undefined, body, {
      cookie,
      ...CSRF,
      origin: "https://evil.example",
      host: "tollgate.internal:8080",
    });
    expect(foreign.status).toBe(403);
    expect(foreign.body.detail).toContain("evil.example");
    const same = await server.call("POST", "/v1/admin/counters/reset", undefined, body, {
      cookie,
      ...CSRF,
      origin: "http://tollgate.internal:8080",
      host: "tollgate.internal:8080",
    });
    expect(same.status).toBe(200);
    // Reads need no header (they change nothing).
    expect((await server.call("GET", "/v1/admin/keys", undefined, undefined, { cookie })).status).toBe(200);
    // Sign-in and sign-out need it too.
    expect((await server.call("POST", "/v1/session", undefined, { token: ADMIN })).status).toBe(403);
  });

  it("security: roles still apply to sessions, and a 403 names the role needed", async () => {
    const { cookie } = await signIn(tokens.readonly as string);
    const res = await server.call(
      "POST",
      "/v1/admin/keys",
      undefined,
      { owner: "org:a", plan: "free" },
      { cookie, ...CSRF },
    );
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ role: "readonly", needed: "operator or higher" });
  });

  it("security: the decision API never accepts a session cookie", async () => {
    const { cookie } = await signIn(ADMIN);
    const res = await server.call("POST", "/v1/check", undefined, { subject: { user: "u" } }, { cookie, ...CSRF });
    expect(res.status).toBe(401);
  });

  it("bad input: wrong token 401 naming the field, service token 403, tampered or foreign cookie 401", async () => {
    const wrong = await server.call("POST", "/v1/session", undefined, { token: "nope-nope-nope" }, CSRF);
    expect(wrong.status).toBe(401);
    expect(wrong.body.field).toBe("token");
    expect(wrong.headers["set-cookie"]).toBeUndefined();
    const service = await server.call("POST", "/v1/session", undefined, { token: SERVICE }, CSRF);
    expect(service.status).toBe(403);
    const missing = await server.call("POST", "/v1/session", undefined, {}, CSRF);
    expect(missing.status).toBe(400);
    expect(missing.body.field).toBe("token");

    const { cookie } = await signIn(tokens.readonly as string);
    const [name, value] = cookie.split("=") as [string, string];
    const [payload, signature] = value.split(".") as [string, string];
    // Claim the admin token's id with the readonly session's signature.
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
    const forged = Buffer.from(JSON.stringify({ ...claims, t: "env:env-admin" })).toString("base64url");
    for (const bad of [
      `${name}=${forged}.${signature}`,
      `${name}=${payload}.AAAA${signature.slice(4)}`,
      `${name}=junk`,
    ]) {
      const res = await server.call("GET", "/v1/admin/keys", undefined, undefined, { cookie: bad });
      expect(res.status, bad).toBe(401);
    }
  });

  it("edge: a session ends when it expires, when its token is revoked, and at sign-out", async () => {
    const created = await server.call("POST", "/v1/admin/tokens", ADMIN, { name: "short", role: "operator" });
    const { cookie } = await signIn(created.body.token);
    expect((await server.call("GET", "/v1/admin/keys", undefined, undefined, { cookie })).status).toBe(200);
    await server.call("DELETE", `/v1/admin/tokens/${created.body.id}`, ADMIN);
    expect((await server.call("GET", "/v1/admin/keys", undefined, undefined, { cookie })).status).toBe(401);

    const second = await signIn(ADMIN);
    (server.clock as unknown as { advance(ms: number): void }).advance(8 * 3600_000 + 1000);
    expect((await server.call("GET", "/v1/admin/keys", undefined, undefined, { cookie: second.cookie })).status).toBe(
      401,
    );

    const third = await signIn(ADMIN);
    const out = await server.call("DELETE", "/v1/session", undefined, undefined, { cookie: third.cookie, ...CSRF });
    expect(out.status).toBe(204);
    expect(String(out.headers["set-cookie"])).toMatch(/tollgate_session=;.*Max-Age=0/);
  });
});

describe("dashboard and statistics", () => {
  it("happy: / serves the built dashboard with a strict Content-Security-Policy", async () => {
    const res = await server.app.inject({ method: "GET", url: "/" });
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/<script type="module" src="\/assets\/app-[0-9a-f]+\.js">/);
    expect(res.headers["content-security-policy"]).toContain("script-src 'self'");
    expect(res.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    const script = /src="(\/assets\/[^"]+)"/.exec(res.body)?.[1] as string;
    const asset = await server.app.inject({ method: "GET", url: script, headers: { "accept-encoding": "gzip" } });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers["content-encoding"]).toBe("gzip");
    expect(asset.headers["cache-control"]).toContain("immutable");
  });

  it("happy: decisions per minute count charged decisions by outcome, never peeks", async () => {
    const before = (await server.call("GET", "/v1/admin/stats/decisions", ADMIN)).body;
    expect(before.minutes).toHaveLength(60);
    expect(before.store).toMatchObject({ name: "memory", breaker: "closed", degraded: false });
    const base = before.minutes.at(-1);
    for (let i = 0; i < 4; i++) {
      await server.call("POST", "/v1/check", SERVICE, { subject: { user: "stats-u" }, category: "ops_triage" });
    }
    await server.call("POST", "/v1/check", SERVICE, {
      subject: { user: "stats-u" },
      category: "ops_triage",
      dryRun: true,
    });
    await server.call("GET", "/v1/usage?user=stats-u&category=ops_triage", SERVICE);
    const after = (await server.call("GET", "/v1/admin/stats/decisions", tokens.readonly)).body;
    const now = after.minutes.at(-1);
    expect(now.allowed + now.denied + now.monitored - (base.allowed + base.denied + base.monitored)).toBe(4);
  });
});

describe("usage of one subject", () => {
  it("happy: an API key's bars include its overrides by default", async () => {
    const key = await server.call("POST", "/v1/admin/keys", ADMIN, { owner: "org:ovr", plan: "free" });
    await server.call("PUT", `/v1/admin/keys/${key.body.id}/overrides`, ADMIN, {
      limits: [{ name: "minute", per: "key", algorithm: "fixed-window", limit: 3, window: "1m" }],
    });
    const usage = await server.call("GET", `/v1/admin/usage/subject?subject=key:${key.body.id}`, tokens.readonly);
    expect(usage.status).toBe(200);
    expect(usage.body.limits.map((l: { name: string; limit: number }) => [l.name, l.limit])).toEqual([
      ["minute", 3],
      ["month", 1000],
    ]);
  });
});
