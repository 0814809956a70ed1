import { createAlerts, silentLogger } from "@tollgate/alerts";
import { createLimiter, manualClock, memoryStore } from "@tollgate/core";
import { type Db, openDb } from "@tollgate/db";
import { sqlDeliveryLog } from "@tollgate/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Receiver, startReceiver } from "../../alerts/test/receiver.js";

describe("the SQL delivery log (GET /v1/admin/alerts reads it)", () => {
  let db: Db;
  let receiver: Receiver;
  beforeAll(async () => {
    db = await openDb({ dir: "memory://" });
    // A crossing gets 500 twice, then a final 400: two retries, then the dead letter. Anything
    // else gets the 400 at once.
    let crossings = 0;
    receiver = await startReceiver((request, res) => {
      const busy = request.body?.type === "threshold_crossed" && crossings++ < 2;
      res.statusCode = busy ? 500 : 400;
      res.end(busy ? "busy" : "no such channel");
    });
  });
  afterAll(async () => {
    await receiver?.close();
    await db?.close();
  });

  it("happy: each try updates one row per delivery; dead letters keep attempts and the redacted last error", async () => {
    const log = sqlDeliveryLog(db);
    const clock = manualClock(Date.UTC(2026, 2, 10, 12, 0, 0));
    const store = memoryStore({ clock });
    const url = `${receiver.url}/hooks/SECRET-PATH`;
    const alerts = createAlerts({
      store,
      clock,
      logger: silentLogger,
      deliveryLog: log,
      delivery: { baseDelayMs: 5, maxDelayMs: 20, random: () => 0 },
      config: { ops: { type: "webhook", url }, audit: { type: "log" } },
    });
    const limiter = createLimiter({
      store,
      clock,
      limits: [
        { name: "m", per: "org", algorithm: "fixed-window", limit: 1, window: "1m", mode: "monitor", alert: "ops" },
      ],
      hooks: alerts.hooks,
    });
    await limiter.check({ subject: { org: "acme" } });
    await limiter.check({ subject: { org: "acme" } });
    clock.advance(1000);
    alerts.storeDegraded("connection refused"); // goes to every sink: one more row per sink
    await alerts.drain();

    const rows = await log.list();
    expect(rows).toHaveLength(3);
    const dead = await log.list({ status: "dead" });
    // The outage went to every sink: the webhook refused it at once (400 is final).
    expect(dead.map((r) => [r.type, r.attempts]).sort()).toEqual([
      ["store_degraded", 1],
      ["threshold_crossed", 3],
    ]);
    expect(dead.find((r) => r.type === "threshold_crossed")).toMatchObject({
      type: "threshold_crossed",
      subject: "org:acme",
      sink: "ops",
      sinkType: "webhook",
      target: `${receiver.url}/***`,
      status: "dead",
      attempts: 3,
      lastStatus: 400,
      lastError: "receiver answered HTTP 400: no such channel",
      event: { subject: "org:acme", count: 2, threshold: 1 },
    });
    expect(JSON.stringify(rows)).not.toContain("SECRET-PATH");
    expect((await log.list({ sink: "audit" })).map((r) => [r.type, r.status])).toEqual([
      ["store_degraded", "delivered"],
    ]);
    expect(await log.list({ type: "near_limit" })).toEqual([]);
    const newest = rows[0] as (typeof rows)[number];
    const older = await log.before(newest.updatedAt, {});
    expect(older.every((r) => r.updatedAt < newest.updatedAt)).toBe(true);
    await alerts.close();
  });
});
