import { PROBLEMS } from "@tollgate/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, SERVICE, startTestServer, type TestServer } from "./helpers.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const minute = { name: "minute", per: "key", algorithm: "fixed-window", limit: 10, window: "1m" };

describe("validation problems name the request's own field", () => {
  it("a plan write names limits[i].field, not the catalog path", async () => {
    const res = await server.call("PUT", "/v1/admin/plans/team", ADMIN, {
      limits: [minute, { ...minute, name: "hour", limit: -1 }],
    });
    expect(res.status).toBe(400);
    expect(res.body.type).toBe(PROBLEMS.validationFailed.type);
    expect(res.body.field).toBe("limits[1].limit");
    expect(res.body.detail).not.toContain("plans.");
    expect(res.body.issues.map((i: { path: string }) => i.path)).toEqual(["limits[1].limit"]);
  });

  it("a category write names limits[i].field", async () => {
    const res = await server.call("PUT", "/v1/admin/categories/c-1", ADMIN, {
      limits: [{ ...minute, window: "soon" }],
    });
    expect(res.status).toBe(400);
    expect(res.body.field).toBe("limits[0].window");
    expect(res.body.detail).not.toContain("categories.");
  });

  it("key overrides name the index in the request, not in the plan's merged list", async () => {
    // Plan `pro` has limits "minute" and "month"; a new override "burst" is third once merged.
    const key = await server.call("POST", "/v1/admin/keys", ADMIN, { owner: "org:acme", plan: "pro" });
    const res = await server.call("PUT", `/v1/admin/keys/${key.body.id}/overrides`, ADMIN, {
      limits: [{ ...minute, name: "burst", limit: -5 }],
    });
    expect(res.status).toBe(400);
    expect(res.body.field).toBe("limits[0].limit");
  });
});

describe("problem types from the catalogue, camelCase members", () => {
  it("failed authentications: 401 unauthenticated with WWW-Authenticate, then 429 auth-throttled with retryAfter", async () => {
    const first = await server.call("GET", "/v1/admin/plans", "wrong-token");
    expect(first.status).toBe(401);
    expect(first.body.type).toBe(PROBLEMS.unauthenticated.type);
    expect(first.headers["www-authenticate"]).toBe('Bearer realm="tollgate"');
    let res = first;
    for (let i = 0; i < 100 && res.status === 401; i++)
      res = await server.call("GET", "/v1/admin/plans", "wrong-token");
    expect(res.status).toBe(429);
    expect(res.headers["content-type"]).toContain("application/problem+json");
    expect(res.body.type).toBe(PROBLEMS.authThrottled.type);
    expect(res.body.retryAfter).toBe(Number(res.headers["retry-after"]));
    expect(res.body).not.toHaveProperty("retry-after");
  });

  it("a role that may not: 403 forbidden-role; an unknown id: 404 not-found naming the field", async () => {
    const forbidden = await server.call("GET", "/v1/admin/plans", SERVICE);
    expect(forbidden.body).toMatchObject({ type: PROBLEMS.forbiddenRole.type, status: 403 });
    const missing = await server.call("GET", "/v1/admin/keys/key_nope", ADMIN);
    expect(missing.body).toMatchObject({ type: PROBLEMS.notFound.type, status: 404, field: "id" });
  });

  it("malformed JSON and a wrong media type have their own types", async () => {
    const malformed = await server.call("POST", "/v1/check", SERVICE, "{nope", { "content-type": "application/json" });
    expect(malformed.body).toMatchObject({ type: PROBLEMS.malformedBody.type, status: 400, field: "body" });
    const media = await server.call("POST", "/v1/check", SERVICE, "<x/>", { "content-type": "application/xml" });
    expect(media.body).toMatchObject({ type: PROBLEMS.unsupportedMediaType.type, status: 415 });
  });
});
