import type { ManualClock } from "@tollgate/core";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, type Json, SERVICE, startTestServer, type TestServer } from "./helpers.js";

let server: TestServer;
const clock = () => server.clock as ManualClock;
const check = (key: string, plan: string, cost = 1) =>
  server.call("POST", "/v1/check", SERVICE, { subject: { key }, plan, ...(cost !== 1 ? { cost } : {}) });

beforeAll(async () => {
  server = await startTestServer();
  // February: 4 calls by a free key; March: 9 by it and 2 by a basic key, over two days.
  clock().set(Date.UTC(2026, 1, 20, 10));
  for (let i = 0; i < 4; i++) await check("grow", "free");
  clock().set(Date.UTC(2026, 2, 9, 23, 30));
  for (let i = 0; i < 5; i++) await check("grow", "free");
  clock().set(Date.UTC(2026, 2, 10, 12));
  for (let i = 0; i < 4; i++) {
    clock().advance(61_000); // stay under the per-minute limit
    await check("grow", "free");
  }
  for (let i = 0; i < 2; i++) await check('b,"quoted"', "basic");
  await server.ctx.ledger.writer?.flush();
});
afterAll(() => server.close());

describe("usage reports over HTTP", () => {
  it("history: daily and hourly series of one subject, per limit", async () => {
    const daily = await server.call(
      "GET",
      "/v1/admin/usage/history?subject=key:grow&limit=month&from=2026-03-01T00:00:00Z&to=2026-03-11T00:00:00Z",
      ADMIN,
    );
    expect(daily.status).toBe(200);
    expect(daily.body.points).toEqual([
      { start: "2026-03-09T00:00:00.000Z", limit: "month", category: "", used: 5 },
      { start: "2026-03-10T00:00:00.000Z", limit: "month", category: "", used: 4 },
    ]);
    const hourly = await server.call(
      "GET",
      "/v1/admin/usage/history?subject=key:grow&granularity=hour&limit=month&from=2026-03-10T00:00:00Z&to=2026-03-11T00:00:00Z",
      ADMIN,
    );
    expect(hourly.body.points).toEqual([{ start: "2026-03-10T12:00:00.000Z", limit: "month", category: "", used: 4 }]);
  });

  it("top and summary: totals by plan with growth against the month before", async () => {
    const top = await server.call("GET", "/v1/admin/usage/top?period=2026-03&limit=month", ADMIN);
    expect(top.body.subjects).toEqual([
      { subject: "key:grow", limit: "month", unit: "requests", plan: "free", used: 9 },
      { subject: 'key:b,"quoted"', limit: "month", unit: "requests", plan: "basic", used: 2 },
    ]);
    // A limit that is not a quota: its UTC month from the monthly rollup.
    const minute = await server.call("GET", "/v1/admin/usage/top?period=2026-03&limit=minute", ADMIN);
    expect(minute.body.subjects).toEqual([
      { subject: "key:grow", limit: "minute", unit: "requests", plan: "free", used: 9 },
      { subject: 'key:b,"quoted"', limit: "minute", unit: "requests", plan: "basic", used: 2 },
    ]);
    const summary = await server.call("GET", "/v1/admin/usage/summary?period=2026-03", ADMIN);
    const free = summary.body.plans.find((p: Json) => p.plan === "free" && p.limit === "month");
    expect(free).toEqual({
      plan: "free",
      limit: "month",
      unit: "requests",
      used: 9,
      subjects: 1,
      previousUsed: 4,
      previousSubjects: 1,
      growth: 1.25,
    });
    expect(summary.body.plans.find((p: Json) => p.plan === "basic" && p.limit === "month")).toMatchObject({
      used: 2,
      growth: null,
    });
  });

  it("export: csv, json and CloudEvents NDJSON carry the same rows and the same stable ids", async () => {
    const json = await server.call("GET", "/v1/admin/usage/export?period=2026-03&format=json", ADMIN);
    const rows = json.body.rows.filter((r: Json) => r.limit === "month");
    expect(rows.map((r: Json) => [r.subject, r.day, r.quantity])).toEqual([
      ["key:grow", "2026-03-09", 5],
      ['key:b,"quoted"', "2026-03-10", 2],
      ["key:grow", "2026-03-10", 4],
    ]);
    const csv = await server.app.inject({
      url: "/v1/admin/usage/export?period=2026-03&format=csv",
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(csv.headers["content-type"]).toContain("text/csv");
    expect(csv.body.split("\r\n")[0]).toBe("id,subject,limit,category,plan,unit,day,quantity");
    expect(csv.body).toContain(`"key:b,""quoted"""`);
    const ce = await server.app.inject({
      url: "/v1/admin/usage/export?period=2026-03&format=cloudevents",
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(ce.headers["content-type"]).toContain("application/x-ndjson");
    const events = ce.body
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(events.map((e: Json) => e.id)).toEqual(json.body.rows.map((r: Json) => r.id));
    expect(events[0]).toMatchObject({
      specversion: "1.0",
      type: "dev.tollgate.usage",
      source: "/tollgate/usage",
      subject: "key:grow",
      time: "2026-03-09T00:00:00Z",
      data: { category: "", plan: "free", unit: "requests" },
    });
    const again = await server.app.inject({
      url: "/v1/admin/usage/export?period=2026-03&format=cloudevents",
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(again.body).toBe(ce.body);
  });

  it("export: streamed page by page; more rows than one page, every id once and the same on a second export", async () => {
    // 12,000 daily rows in April (30 days x 400 subjects), written straight into the rollup: more
    // than two pages of the export cursor.
    await sql`
      insert into usage_daily (day, subject, limit_name, unit, category, plan, counter, quantity)
      select timestamptz '2026-04-01 00:00:00+00' + make_interval(days => d), 'key:bulk' || k, 'month', 'requests',
        '', 'free', 'p|month|key|quota|month@UTC', k + d
      from generate_series(0, 29) d, generate_series(1, 400) k`.execute(server.ctx.db.kysely);
    const get = (format: string) =>
      server.app.inject({
        url: `/v1/admin/usage/export?period=2026-04&format=${format}`,
        headers: { authorization: `Bearer ${ADMIN}` },
      });
    const [json, csv, ce, again] = await Promise.all([get("json"), get("csv"), get("cloudevents"), get("cloudevents")]);
    const rows = JSON.parse(json.body).rows as Json[];
    expect(rows).toHaveLength(12_000);
    const ids = rows.map((r) => r.id);
    expect(new Set(ids).size).toBe(12_000);
    const keys = rows.map((r) => `${r.day}|${r.subject}`);
    expect(keys).toEqual([...keys].sort());
    expect(rows.reduce((sum, r) => sum + r.quantity, 0)).toBe(30 * ((400 * 401) / 2) + 400 * ((29 * 30) / 2));
    const csvLines = csv.body.trim().split("\r\n");
    expect(csvLines).toHaveLength(12_001);
    expect(csvLines.slice(1).map((line) => line.split(",")[0])).toEqual(ids);
    expect(ce.body).toBe(again.body);
    expect(
      ce.body
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line).id),
    ).toEqual(ids);
  });

  it("error: bad report parameters are 400 naming the field, never a 5xx", async () => {
    const cases: [string, string][] = [
      ["/v1/admin/usage/top?period=2026-13", "period"],
      ["/v1/admin/usage/top?limit=nope", "limit"],
      ["/v1/admin/usage/history?subject=key:a&from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", "from"],
      [
        "/v1/admin/usage/history?subject=key:a&granularity=hour&from=2025-01-01T00:00:00Z&to=2026-03-01T00:00:00Z",
        "from",
      ],
      ["/v1/admin/usage/history?subject=nobody", "subject"],
      ["/v1/admin/usage/export?format=xml", "format"],
      ["/v1/admin/usage/summary?timeZone=Mars/Olympus", "timeZone"],
      ["/v1/admin/usage/near-limit?ratio=2", "ratio"],
    ];
    for (const [url, field] of cases) {
      const res = await server.call("GET", url, ADMIN);
      expect(res.status, url).toBe(400);
      expect(res.body.field, url).toBe(field);
    }
  });
});
