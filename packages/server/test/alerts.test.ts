import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifySignature } from "@tollgate/alerts";
import { ConfigLoadError, loadConfig } from "@tollgate/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Receiver, startReceiver } from "../../alerts/test/receiver.js";
import { ADMIN, SERVICE, startTestServer, type TestServer } from "./helpers.js";

const SECRET = "whsec_server_0123456789abcdef";

const check = (s: TestServer, org: string, category: string) =>
  s.call("POST", "/v1/check", SERVICE, { subject: { org }, category });

describe("server alerts: case 2 on the built-in example, `ops` pointed at a local receiver", () => {
  let receiver: Receiver;
  let server: TestServer;
  beforeAll(async () => {
    receiver = await startReceiver();
    const url = `${receiver.url}/hook/T0KEN-in-path`;
    server = await startTestServer({
      env: { TOLLGATE__alerts__ops: JSON.stringify({ type: "webhook", url, secret: SECRET }) },
    });
  });
  afterAll(async () => {
    await server?.close();
    await receiver?.close();
  });

  it("happy: 100 requests from one org in a minute: exactly one webhook with org, category, count 16, threshold 15; GET /v1/admin/alerts lists it", async () => {
    for (let i = 0; i < 100; i++) {
      const reply = await check(server, "acme", "llm_call");
      expect(reply.body.allowed).toBe(true);
    }
    await server.ctx.alerts.drain();
    expect(receiver.requests).toHaveLength(1);
    const [request] = receiver.requests;
    expect(request?.body).toMatchObject({
      type: "threshold_crossed",
      subject: "org:acme",
      category: "llm_call",
      count: 16,
      threshold: 15,
    });
    expect(verifySignature(SECRET, request?.raw ?? "", String(request?.headers["x-tollgate-signature"]))).toBe(true);

    const listed = await server.call("GET", "/v1/admin/alerts", ADMIN);
    expect(listed.status).toBe(200);
    expect(listed.body.deliveries).toHaveLength(1);
    expect(listed.body.deliveries[0]).toMatchObject({
      id: request?.headers["x-tollgate-delivery"],
      type: "threshold_crossed",
      sink: "ops",
      status: "delivered",
      attempts: 1,
      target: `${receiver.url}/***`,
      event: { subject: "org:acme", count: 16, threshold: 15 },
    });
    expect(listed.body.sinks).toEqual([
      { name: "ops", type: "webhook", target: `${receiver.url}/***`, severity: "info" },
    ]);
    const metrics = await server.app.inject({ method: "GET", url: "/metrics" });
    expect(metrics.body).toContain(
      'tollgate_alert_deliveries_total{sink="ops",type="threshold_crossed",outcome="delivered"} 1',
    );
    expect(metrics.body).toContain('tollgate_alert_events_total{type="threshold_crossed"} 1');
    const everything = JSON.stringify(listed.body) + server.logs.text + metrics.body;
    expect(everything).not.toContain("T0KEN-in-path");
    expect(everything).not.toContain(SECRET);
  });

  it("happy: a second org gets its own alert; each category its threshold; the next minute alerts again", async () => {
    const before = receiver.requests.length;
    for (let i = 0; i < 20; i++) await check(server, "initech", "llm_call");
    for (let i = 0; i < 20; i++) await check(server, "globex", "llm_call");
    for (let i = 0; i < 5; i++) await check(server, "initech", "collections");
    for (let i = 0; i < 5; i++) await check(server, "initech", "evaluations");
    await server.ctx.alerts.drain();
    const seen = () =>
      receiver.requests.slice(before).map((r) => [r.body.subject, r.body.category, r.body.count, r.body.threshold]);
    expect(seen()).toEqual([
      ["org:initech", "llm_call", 16, 15],
      ["org:globex", "llm_call", 16, 15],
      ["org:initech", "collections", 4, 3],
      ["org:initech", "evaluations", 4, 3],
    ]);
    (server.clock as unknown as { advance(ms: number): void }).advance(60_000);
    for (let i = 0; i < 20; i++) await check(server, "initech", "llm_call");
    await server.ctx.alerts.drain();
    expect(seen()).toHaveLength(5);
    expect(seen()[4]).toEqual(["org:initech", "llm_call", 16, 15]);
    const listed = await server.call("GET", "/v1/admin/alerts?limit=2", ADMIN);
    expect(listed.body.deliveries).toHaveLength(2);
    const filtered = await server.call("GET", "/v1/admin/alerts?status=dead", ADMIN);
    expect(filtered.body.deliveries).toEqual([]);
  });
});

describe("server alerts: the built-in example as is", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it("happy: with no configuration the built-in `ops` sink writes one log line per crossing", async () => {
    for (let i = 0; i < 40; i++) await check(server, "acme", "llm_call");
    await server.ctx.alerts.drain();
    const lines = server.logs.text
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .filter((l) => l.alert);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 40,
      msg: "org:acme crossed llm_call / org-minute: 16 requests, threshold 15 in this window",
      alert: { subject: "org:acme", category: "llm_call", count: 16, threshold: 15 },
    });
  });

  it("sad: listing deliveries needs a token; a bad filter is a 400 naming it", async () => {
    expect((await server.call("GET", "/v1/admin/alerts")).status).toBe(401);
    const bad = await server.call("GET", "/v1/admin/alerts?status=lost", ADMIN);
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe("status");
  });

  it("sad: PUT /v1/admin/categories and plans with an unknown alert are 400 naming the field; nothing is stored", async () => {
    const limit = { name: "m", per: "org", algorithm: "fixed-window", limit: 3, window: "1m", mode: "monitor" };
    const category = await server.call("PUT", "/v1/admin/categories/reports", ADMIN, {
      limits: [{ ...limit, alert: "pager" }],
    });
    expect(category.status).toBe(400);
    expect(category.body.field).toBe("limits[0].alert");
    expect(category.body.detail).toContain('no alert sink named "pager" (configured: ops)');
    const plan = await server.call("PUT", "/v1/admin/plans/team", ADMIN, {
      limits: [{ ...limit, per: "user", mode: "enforce", alert: "nope" }],
    });
    expect(plan.status).toBe(400);
    expect(plan.body.field).toBe("limits[0].alert");
    const listed = await server.call("GET", "/v1/admin/categories", ADMIN);
    expect(listed.body.categories.map((c: { name: string }) => c.name)).not.toContain("reports");
    const ok = await server.call("PUT", "/v1/admin/categories/reports", ADMIN, {
      limits: [{ ...limit, alert: "ops" }],
    });
    expect(ok.status).toBe(200);
  });
});

describe("server alerts: validation at start-up", () => {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-alerts-config-"));
  const problems = (yaml: string, env: Record<string, string> = {}) => {
    const file = join(dir, `c${Math.random()}.yaml`);
    writeFileSync(file, yaml);
    try {
      loadConfig({ file, env });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigLoadError);
      return (error as ConfigLoadError).problems.map((p) => `${p.path} @${p.line ?? p.source}: ${p.message}`);
    }
    return [];
  };

  it("sad: a limit naming an unknown sink stops start-up naming the field and its line", () => {
    const found = problems(`alerts:
  ops: { type: log }
categories:
  llm_call:
    limits:
      - { name: m, per: org, algorithm: fixed-window, limit: 15, window: 1m, mode: monitor, alert: opz }
`);
    expect(found).toEqual(['categories.llm_call.limits[0].alert @6: no alert sink named "opz" (configured: ops)']);
  });

  it("sad: bad sinks and routes are named; a route may group sinks", () => {
    expect(
      problems(`alerts:
  hook: { type: webhook, url: "ftp://example.com/x" }
  chat: { type: slack, url: "https://hooks.slack.com/services/x", colour: red }
  ops: { sinks: [hook, pager] }
`),
    ).toEqual([
      "alerts.hook.url @2: must be an http(s) URL",
      'alerts.chat.colour @3: Unrecognized key: "colour"',
      'alerts.ops.sinks[1] @4: no alert sink named "pager"',
    ]);
    expect(
      problems(`alerts:
  a: { type: log }
  b: { type: webhook, url: "http://127.0.0.1:1/x", severity: critical }
  ops: { sinks: [a, b] }
limits:
  - { name: m, per: org, algorithm: fixed-window, limit: 1, window: 1m, alert: ops, alertAt: [0.5] }
`),
    ).toEqual([]);
  });
});
