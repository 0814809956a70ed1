import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import { findBinary, missing } from "@tollgate/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SERVICE, startTestServer, type TestServer } from "./helpers.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe("operations", () => {
  it("happy: /healthz and /readyz answer ok with the stores reachable", async () => {
    expect((await server.call("GET", "/healthz")).body).toEqual({ status: "ok" });
    const ready = await server.call("GET", "/readyz");
    expect(ready.status).toBe(200);
    expect(ready.body.checks).toEqual({ "store:memory": "ok", "database:pglite": "ok", ledger: "ok" });
  });

  it("error: /readyz is 503 when the store is unreachable", async () => {
    const original = server.ctx.store.ping;
    server.ctx.store.ping = () => Promise.reject(new Error("connection refused"));
    try {
      const ready = await server.call("GET", "/readyz");
      expect(ready.status).toBe(503);
      expect(ready.body.status).toBe("unavailable");
    } finally {
      server.ctx.store.ping = original;
    }
  });

  it("happy: / serves the dashboard, which links the API docs for browsers without JavaScript", async () => {
    const res = await server.call("GET", "/");
    expect(res.status).toBe(200);
    expect(res.body).toContain('href="/docs"');
    expect(res.body).toContain('<div id="app">');
    expect((await server.app.inject({ method: "GET", url: "/docs/" })).statusCode).toBeLessThan(400);
  });

  it("happy: unknown routes are a 404 problem", async () => {
    const res = await server.call("GET", "/v1/nope");
    expect(res.status).toBe(404);
    expect(res.headers["content-type"]).toContain("application/problem+json");
  });

  it("happy: /metrics counts decisions, HTTP latency and breaker state, and passes promtool", async () => {
    await server.call("POST", "/v1/check", SERVICE, { subject: { user: "m-1" }, category: "ops_triage" });
    await server.call("POST", "/v1/check", SERVICE, { subject: { ip: "192.0.2.7" }, category: "generate" });
    await server.call("POST", "/v1/check", SERVICE, { subject: { ip: "192.0.2.7" }, category: "generate" });
    const res = await server.app.inject({ method: "GET", url: "/metrics" });
    expect(res.headers["content-type"]).toContain("text/plain");
    const text = res.body;
    expect(text).toContain('tollgate_decisions_total{result="allowed",reason="none",category="ops_triage"} 1');
    expect(text).toContain('tollgate_decisions_total{result="denied",reason="limit_exceeded",category="generate"} 1');
    expect(text).toContain('tollgate_limit_exceeded_total{limit="day",mode="enforce",category="generate"} 1');
    expect(text).toContain("tollgate_breaker_state 0");
    expect(text).toContain("tollgate_store_duration_seconds_bucket");
    expect(text).toContain(
      'tollgate_http_request_duration_seconds_count{method="POST",route="/v1/check",status_code="200"}',
    );
    expect(text).toContain("tollgate_degraded_decisions_total");
    const promtool = findBinary("promtool");
    if (missing(promtool, "promtool (Debian package prometheus)")) return;
    const result = spawnSync(promtool as string, ["check", "metrics"], { input: text, encoding: "utf8" });
    expect(result.stdout + result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it("happy: /openapi.json is OpenAPI 3.1 generated from the request schemas and passes a validator", async () => {
    const res = await server.call("GET", "/openapi.json");
    expect(res.body.openapi).toBe("3.1.0");
    for (const path of [
      "/v1/check",
      "/v1/check/batch",
      "/v1/settle",
      "/v1/usage",
      "/v1/admin/keys",
      "/v1/admin/plans/{name}",
      "/v1/admin/audit",
    ]) {
      expect(res.body.paths[path], path).toBeDefined();
    }
    const dir = mkdtempSync(join(tmpdir(), "tollgate-openapi-"));
    const file = join(dir, "openapi.json");
    writeFileSync(file, JSON.stringify(res.body));
    const validator = new Validator();
    const result = await validator.validate(file);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });
});
