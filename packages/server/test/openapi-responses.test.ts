import type { ManualClock } from "@tollgate/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, type Json, type Reply, SERVICE, startTestServer, type TestServer } from "./helpers.js";
import { ContractChecker } from "./openapi-contract.js";

/**
 * The response-schema check: real responses of every operation in /openapi.json, to valid and
 * invalid requests, validated against the document. Operations are read from the document, so
 * a route added without exercised examples fails the last test here.
 */
let server: TestServer;
let contract: ContractChecker;
const failures: string[] = [];

beforeAll(async () => {
  server = await startTestServer();
  contract = new ContractChecker((await server.call("GET", "/openapi.json")).body);
});
afterAll(() => server.close());

/** Sends a request for operation `id` and checks the answer against the document. */
async function exercise(
  id: string,
  options: {
    token?: string;
    params?: Record<string, string>;
    query?: string;
    body?: unknown;
    headers?: Record<string, string>;
  } = {},
): Promise<Reply> {
  const op = contract.operation(id);
  const reply = await server.call(
    op.method.toUpperCase(),
    contract.url(id, options.params, options.query),
    options.token,
    options.body,
    options.headers,
  );
  const raw = reply.raw;
  failures.push(...contract.check(id, reply, raw));
  return reply;
}

/** Example values of an operation's parameters, from the document. */
function documentedParams(spec: Json, where: "path" | "query"): Record<string, string> {
  const params: Record<string, string> = {};
  for (const p of spec.parameters ?? [])
    if (p.in === where && p.example !== undefined) params[p.name] = String(p.example);
  return params;
}

describe("every operation answers what /openapi.json says", () => {
  it("invalid: every secured operation without a token is a 401 problem with WWW-Authenticate", async () => {
    let throttled = 0;
    for (const op of contract.operations) {
      // Bearer-token operations here; the dashboard's cookie-only operations have their own test.
      if (!op.spec.security?.some((requirement: Json) => "bearer" in requirement)) continue;
      // With a valid request: Fastify validates the body before the role check runs.
      const example = Object.values(op.spec.requestBody?.content?.["application/json"]?.examples ?? {})[0] as Json;
      const query = new URLSearchParams(documentedParams(op.spec, "query")).toString();
      const request = {
        params: documentedParams(op.spec, "path"),
        query: query ? `?${query}` : "",
        body: example?.value,
      };
      let reply = await exercise(op.id, request);
      if (reply.status === 429) {
        // Failed authentications from one address are throttled: wait it out as a client would.
        throttled++;
        (server.clock as ManualClock).advance(Number(reply.headers["retry-after"]) * 1000);
        reply = await exercise(op.id, request);
      }
      expect(reply.status, op.id).toBe(401);
    }
    expect(throttled, "the failed-auth throttle was met and checked too").toBeGreaterThan(0);
    expect(failures).toEqual([]);
  });

  it("valid: every documented example request, sent as documented, gets a documented answer", async () => {
    for (const op of contract.operations) {
      const bodies = Object.values(op.spec.requestBody?.content?.["application/json"]?.examples ?? {}) as Json[];
      if (op.spec.requestBody) expect(bodies.length, `${op.id} has no request body example`).toBeGreaterThan(0);
      const query = new URLSearchParams(documentedParams(op.spec, "query")).toString();
      for (const example of bodies.length > 0 ? bodies : [undefined]) {
        await exercise(op.id, {
          token: ADMIN,
          params: documentedParams(op.spec, "path"),
          query: query ? `?${query}` : "",
          body: example?.value,
        });
      }
    }
    expect(failures).toEqual([]);
  });

  it("valid and invalid: the decision API", async () => {
    const check = await exercise("check", {
      token: SERVICE,
      body: { subject: { user: "u-contract" }, category: "ops_triage", cost: 1 },
    });
    expect(check.status).toBe(200);
    expect(check.headers["ratelimit-policy"]).toBe(check.body.headers["RateLimit-Policy"]);
    await exercise("check", { token: SERVICE, body: { subject: { user: "u" }, cost: -1 } });
    await exercise("check", { token: SERVICE, body: "{not json", headers: { "content-type": "application/json" } });
    await exercise("check", { token: SERVICE, body: "<x/>", headers: { "content-type": "application/xml" } });
    await exercise("check", { token: SERVICE, body: { subject: { user: "u" }, category: "nope" } });
    await exercise("check", { token: SERVICE, body: { subject: { user: "u" }, extra: 1 } });
    await exercise("checkBatch", { token: SERVICE, body: { requests: [] } });
    const settle = await exercise("settle", { token: SERVICE, body: { decisionId: check.body.decisionId, cost: 3 } });
    expect(settle.status).toBe(200);
    await exercise("settle", { token: SERVICE, body: { decisionId: "forged", cost: 1 } });
    const noSubject = await exercise("getUsage", { token: SERVICE });
    expect(noSubject.status).toBe(400);
    expect(noSubject.body.field).toBe("user");
    await exercise("getUsage", { token: SERVICE, query: "?user=u-contract&category=ops_triage" });
    await exercise("getUsage", { token: SERVICE, query: "?user=u&bogus=1" });
    // A readonly token may not call the decision API; a service token may not call the admin API.
    const readonly = await exercise("createToken", { token: ADMIN, body: { name: "contract-ro", role: "readonly" } });
    expect(readonly.status).toBe(201);
    expect((await exercise("check", { token: readonly.body.token, body: { subject: { user: "u" } } })).status).toBe(
      403,
    );
    expect((await exercise("listPlans", { token: SERVICE })).status).toBe(403);
    expect(failures).toEqual([]);
  });

  it("valid and invalid: the admin API's resources", async () => {
    const created = await exercise("createKey", { token: ADMIN, body: { owner: "org:contract", plan: "pro" } });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    await exercise("createKey", { token: ADMIN, body: { owner: "org:contract", plan: "no-such-plan" } });
    // A retried create answers its first result; the same Idempotency-Key with another body is a 422.
    const once = { "idempotency-key": "6f1c2a9e-contract" };
    const first = await exercise("createKey", {
      token: ADMIN,
      body: { owner: "org:once", plan: "pro" },
      headers: once,
    });
    const retried = await exercise("createKey", {
      token: ADMIN,
      body: { owner: "org:once", plan: "pro" },
      headers: once,
    });
    expect(retried.body.id).toBe(first.body.id);
    expect(retried.headers["idempotent-replayed"]).toBe("true");
    const reused = await exercise("createKey", {
      token: ADMIN,
      body: { owner: "org:twice", plan: "pro" },
      headers: once,
    });
    expect(reused.body.type).toBe("https://tollgate.dev/problems/idempotency-key-reused");
    await exercise("createKey", { token: ADMIN, body: { owner: "nobody", plan: "pro" } });
    expect((await exercise("getKey", { token: ADMIN, params: { id } })).status).toBe(200);
    expect((await exercise("getKey", { token: ADMIN, params: { id: "k".repeat(300) } })).status).toBe(414);
    const limits = [{ name: "minute", per: "key", algorithm: "fixed-window", limit: 500, window: "1m" }];
    expect((await exercise("putKeyOverrides", { token: ADMIN, params: { id }, body: { limits } })).status).toBe(200);
    await exercise("putKeyOverrides", {
      token: ADMIN,
      params: { id },
      body: { limits: [{ ...limits[0], limit: -1 }] },
    });
    expect((await exercise("rotateKey", { token: ADMIN, params: { id } })).status).toBe(200);
    expect((await exercise("revokeKey", { token: ADMIN, params: { id } })).status).toBe(200);
    expect((await exercise("rotateKey", { token: ADMIN, params: { id } })).status).toBe(409);
    await exercise("putPlan", { token: ADMIN, params: { name: "bad name!" }, body: { limits } });
    await exercise("putCategory", {
      token: ADMIN,
      params: { name: "c1" },
      body: { limits: [{ ...limits[0], window: "soon" }] },
    });
    const token = await exercise("createToken", { token: ADMIN, body: { name: "contract-svc", role: "service" } });
    expect((await exercise("revokeToken", { token: ADMIN, params: { id: token.body.id } })).status).toBe(204);
    expect((await exercise("revokeToken", { token: ADMIN, params: { id: token.body.id } })).status).toBe(404);
    await exercise("createToken", { token: ADMIN, body: { name: "x", role: "root" } });
    await exercise("resetCounters", { token: ADMIN, body: { subject: "nobody" } });
    await exercise("listAudit", { token: ADMIN, query: "?limit=0" });
    await exercise("listTopConsumers", { token: ADMIN, query: "?n=many" });
    await exercise("listTopConsumers", { token: ADMIN, query: "?limit=no-such-limit" });
    await exercise("listNearLimit", { token: ADMIN, query: "?ratio=2" });
    await exercise("getUsageSummary", { token: ADMIN, query: "?period=2026-13" });
    await exercise("getUsageHistory", {
      token: ADMIN,
      query: "?subject=user:u-42&from=2026-03-10T00:00:00Z&to=2026-03-01T00:00:00Z",
    });
    for (const format of ["json", "csv", "cloudevents"]) {
      const exported = await exercise("exportUsage", { token: ADMIN, query: `?format=${format}` });
      expect(exported.status, format).toBe(200);
    }
    await exercise("exportUsage", { token: ADMIN, query: "?format=xml" });
    await exercise("getSubjectUsage", { token: ADMIN, query: "?subject=nobody" });
    expect(failures).toEqual([]);
  });

  it("valid and invalid: dashboard sign-in, session and sign-out", async () => {
    const csrf = { "x-tollgate-csrf": "1" };
    expect((await exercise("signIn", { body: { token: ADMIN } })).status).toBe(403);
    expect((await exercise("signIn", { body: { token: "wrong" }, headers: csrf })).status).toBe(401);
    expect((await exercise("signIn", { body: { token: SERVICE }, headers: csrf })).status).toBe(403);
    const signedIn = await exercise("signIn", { body: { token: ADMIN }, headers: csrf });
    expect(signedIn.status).toBe(200);
    const cookie = String(signedIn.headers["set-cookie"]).split(";")[0] as string;
    expect((await exercise("getSession", { headers: { cookie } })).status).toBe(200);
    expect((await exercise("getSession")).status).toBe(401);
    expect((await exercise("signOut", { headers: { cookie } })).status).toBe(403);
    expect((await exercise("signOut", { headers: { cookie, ...csrf } })).status).toBe(204);
    // Admin changes made with the cookie need the CSRF header too (a signed-out cookie still verifies: it is stateless).
    const change = await exercise("createToken", { headers: { cookie }, body: { name: "x", role: "readonly" } });
    expect(change.body.type).toBe("https://tollgate.dev/problems/csrf-rejected");
    expect(failures).toEqual([]);
  });

  it("operations: health, readiness, metrics", async () => {
    await exercise("getHealth");
    await exercise("getReadiness");
    await exercise("getMetrics");
    expect(failures).toEqual([]);
  });

  it("every operation in the document was exercised: a success and a problem response each", () => {
    expect(contract.operations.length).toBeGreaterThan(20);
    expect(contract.unexercised()).toEqual([]);
  });
});
