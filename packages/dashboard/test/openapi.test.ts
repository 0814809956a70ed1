import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../server/test/helpers.js";
import { ROUTES } from "../src/routes.js";

// The dashboard's typed client is checked against the server's own OpenAPI document: every route
// it calls must exist with that method, and the fields it reads must be in the response schemas.
let server: TestServer;
// biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document is walked as plain JSON
let doc: any;

beforeAll(async () => {
  server = await startTestServer();
  doc = (await server.app.inject({ method: "GET", url: "/openapi.json" })).json();
});
afterAll(() => server.close());

// biome-ignore lint/suspicious/noExplicitAny: plain JSON schema
function resolve(schema: any): any {
  if (schema?.$ref) return resolve(doc.components.schemas[schema.$ref.split("/").pop()]);
  return schema;
}
function okSchema(path: string, method: string) {
  const responses = doc.paths[path][method].responses;
  const ok = responses["200"] ?? responses["201"];
  return resolve(ok?.content?.["application/json"]?.schema);
}

describe("dashboard client vs /openapi.json", () => {
  it("happy: every route the dashboard calls exists with its method (optional ones may be missing)", () => {
    const missing = Object.entries(ROUTES)
      .filter(([, r]) => !("optional" in r && r.optional))
      .filter(([, r]) => !doc.paths[r.path]?.[r.method])
      .map(([name, r]) => `${name}: ${r.method.toUpperCase()} ${r.path}`);
    expect(missing).toEqual([]);
  });

  it("happy: the fields the pages read are in the response schemas", () => {
    const fields = (path: string, method = "get") => Object.keys(okSchema(path, method)?.properties ?? {});
    expect(fields("/v1/session", "post")).toEqual(expect.arrayContaining(["name", "role", "expiresAt"]));
    expect(fields("/v1/admin/stats/decisions")).toEqual(expect.arrayContaining(["minutes", "store"]));
    const key = resolve(okSchema("/v1/admin/keys", "get").properties.keys.items);
    expect(Object.keys(key.properties)).toEqual(
      expect.arrayContaining(["id", "name", "prefix", "owner", "plan", "status", "overrides"]),
    );
    expect(Object.keys(okSchema("/v1/admin/keys", "post").properties)).toContain("secret");
    const usage = okSchema("/v1/admin/usage/subject", "get").properties.limits.items;
    expect(Object.keys(usage.properties)).toEqual(expect.arrayContaining(["name", "used", "limit", "reset"]));
    const delivery = resolve(okSchema("/v1/admin/alerts", "get").properties.deliveries.items);
    expect(Object.keys(delivery.properties)).toEqual(
      expect.arrayContaining([
        "id",
        "type",
        "subject",
        "sink",
        "status",
        "attempts",
        "lastError",
        "createdAt",
        "event",
      ]),
    );
    const plan = okSchema("/v1/admin/plans", "get").properties.plans.items;
    expect(Object.keys(plan.properties)).toEqual(expect.arrayContaining(["name", "limits", "updatedAt"]));
  });

  it("happy: admin routes document the session cookie as an alternative to the bearer token", () => {
    expect(doc.components.securitySchemes.session).toMatchObject({ type: "apiKey", in: "cookie" });
    expect(doc.paths["/v1/admin/keys"].get.security).toEqual(expect.arrayContaining([{ session: [] }]));
  });
});
