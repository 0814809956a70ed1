import type { ManualClock } from "@tollgate/core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ADMIN, SERVICE, startTestServer, type TestServer } from "./helpers.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { TOLLGATE_LOG_LEVEL: "trace" } });
});
afterAll(() => server.close());

it("security: no secret issued or presented during a full scenario ever reaches the logs", async () => {
  const secrets = [ADMIN, SERVICE];
  const operator = await server.call("POST", "/v1/admin/tokens", ADMIN, { name: "op", role: "operator" });
  secrets.push(operator.body.token);
  const key = await server.call("POST", "/v1/admin/keys", operator.body.token, {
    owner: "org:logs",
    plan: "free",
    scopes: ["llm"],
  });
  secrets.push(key.body.secret);
  const rotated = await server.call("POST", `/v1/admin/keys/${key.body.id}/rotate`, ADMIN);
  secrets.push(rotated.body.secret);
  const byok = "sk-proj-THIS-IS-A-PROVIDER-KEY-1234567890";
  secrets.push(byok);
  await server.call("POST", "/v1/check", SERVICE, {
    subject: { apiKey: rotated.body.secret, user: "u" },
    category: "ops_triage",
  });
  await server.call("POST", "/v1/check", SERVICE, { subject: { apiKey: key.body.secret } });
  await server.call("POST", "/v1/check", SERVICE, { subject: { apiKey: rotated.body.secret }, nope: 1 });
  await server.call(
    "POST",
    "/v1/check",
    SERVICE,
    { subject: { ip: "192.0.2.1" }, category: "generate", byok: true },
    { "x-openai-key": byok },
  );
  await server.call("GET", "/v1/usage", SERVICE, undefined, { "x-api-key": rotated.body.secret });
  await server.call("GET", "/v1/admin/keys", `${ADMIN}x`);
  await server.call("DELETE", `/v1/admin/keys/${key.body.id}`, ADMIN);
  (server.clock as ManualClock).advance(1000);
  await server.call("GET", "/v1/admin/audit", ADMIN);
  expect(server.logs.text.length).toBeGreaterThan(1000);
  expect(server.logs.text).toContain("request completed");
  for (const secret of secrets) {
    expect(server.logs.text.includes(secret), `secret ${secret.slice(0, 10)}... leaked into logs`).toBe(false);
  }
});
