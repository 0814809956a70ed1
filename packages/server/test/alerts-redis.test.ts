import { manualClock } from "@tollgate/core";
import { type Db, openDb } from "@tollgate/db";
import { redisStore } from "@tollgate/redis";
import { missing, type RedisServer, redisServerBinary, startRedis } from "@tollgate/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Receiver, startReceiver } from "../../alerts/test/receiver.js";
import { ADMIN, SERVICE, startTestServer, type TestServer } from "./helpers.js";

const skip = missing(redisServerBinary, "redis-server");
const START = Date.UTC(2026, 2, 10, 12, 0, 0);

describe.skipIf(skip)("alerts on three instances sharing one Redis", () => {
  let redis: RedisServer;
  let db: Db;
  let receiver: Receiver;
  const clock = manualClock(START);
  const servers: TestServer[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    receiver = await startReceiver();
    db = await openDb({ dir: "memory://" });
    for (let i = 0; i < 3; i++) {
      servers.push(
        await startTestServer({
          db,
          clock,
          // The testing clock lets the three instances cross into the next minute together.
          store: redisStore({ url: redis.url, clock }),
          env: {
            TOLLGATE__alerts__ops: JSON.stringify({ type: "webhook", url: `${receiver.url}/hook` }),
            TOLLGATE_LOG_LEVEL: "warn",
            TOLLGATE__stores__timeoutMs: "5000",
          },
        }),
      );
    }
  });
  afterAll(async () => {
    for (const server of servers) await server.close();
    await db?.close();
    await receiver?.close();
    await redis?.stop();
  });

  async function load(orgs: string[], perOrg: number) {
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < perOrg; i++) {
      orgs.forEach((org, j) => {
        const server = servers[(i + j) % servers.length] as TestServer;
        calls.push(server.call("POST", "/v1/check", SERVICE, { subject: { org }, category: "llm_call" }));
      });
    }
    const replies = (await Promise.all(calls)) as { body: { allowed: boolean; degraded?: boolean } }[];
    expect(replies.every((r) => r.body.allowed && !r.body.degraded)).toBe(true);
    for (const server of servers) await server.ctx.alerts.drain();
  }

  it("happy: 100 requests per org spread over three instances: exactly one alert per org per window, and again next window", async () => {
    await load(["acme", "globex", "initech"], 100);
    const first = receiver.requests.map((r) => [r.body.subject, r.body.count, r.body.threshold]);
    expect(first.sort()).toEqual([
      ["org:acme", 16, 15],
      ["org:globex", 16, 15],
      ["org:initech", 16, 15],
    ]);
    clock.advance(60_000);
    await load(["acme", "globex", "initech"], 100);
    expect(receiver.requests).toHaveLength(6);
    const windows = new Set(receiver.requests.map((r) => `${r.body.subject}|${r.body.window.start}`));
    expect(windows.size).toBe(6);
    // The deliveries of every instance are in the shared database.
    const listed = await servers[2]?.call("GET", "/v1/admin/alerts", ADMIN);
    expect(listed?.body.deliveries).toHaveLength(6);
  });

  it("happy: the same crossing observed by all three instances is claimed once through Redis", async () => {
    const before = receiver.requests.length;
    const [a] = servers as [TestServer];
    clock.advance(60_000);
    for (let i = 0; i < 16; i++) {
      const decision = await a.ctx.limiter.check({ subject: { org: "umbrella" }, category: "llm_call" });
      // Each instance sees the crossing decision (as after a fallback decision on each of them).
      if (decision.limits[0]?.crossed) for (const other of servers.slice(1)) other.ctx.alerts.observe(decision);
    }
    for (const server of servers) await server.ctx.alerts.drain();
    expect(receiver.requests.slice(before).map((r) => r.body.subject)).toEqual(["org:umbrella"]);
  });
});

describe.skipIf(skip)("store_degraded then store_recovered when Redis stops and starts under load", () => {
  it("happy: one pair per outage, the recovery resolving the outage", async () => {
    const redis = await startRedis();
    const receiver = await startReceiver();
    const server = await startTestServer({
      clock: { now: () => Date.now() },
      env: {
        TOLLGATE_REDIS_URL: redis.url,
        TOLLGATE__alerts__ops: JSON.stringify({ type: "webhook", url: receiver.url }),
        TOLLGATE_LOG_LEVEL: "error",
      },
    });
    let running = true;
    let degradedDecisions = 0;
    const traffic = (async () => {
      let i = 0;
      while (running) {
        const reply = await server.call("POST", "/v1/check", SERVICE, {
          subject: { org: `o${i++ % 50}` },
          category: "llm_call",
        });
        if (reply.body.degraded) degradedDecisions++;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      await new Promise((r) => setTimeout(r, 300));
      await redis.kill();
      await receiver.received(1, 15_000);
      expect(receiver.requests[0]?.body).toMatchObject({
        type: "store_degraded",
        subject: "store:redis",
        severity: "critical",
      });
      await redis.restart();
      // The breaker tries the store again after its cool-down (5 s), then closes.
      await receiver.received(2, 20_000);
      const [degraded, recovered] = receiver.requests.map((r) => r.body);
      expect(recovered).toMatchObject({ type: "store_recovered", subject: "store:redis", resolves: degraded.id });
      expect(degradedDecisions).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 300));
      expect(receiver.requests).toHaveLength(2);
    } finally {
      running = false;
      await traffic;
      await server.close();
      await receiver.close();
      await redis.stop();
    }
  }, 60_000);
});

describe.skipIf(skip)("store outages on three instances sharing one Redis and one database", () => {
  it("happy: Redis stopped and started under load on three instances: one store_degraded and one store_recovered in all", async () => {
    const redis = await startRedis();
    const receiver = await startReceiver();
    const db = await openDb({ dir: "memory://" });
    const servers: TestServer[] = [];
    for (let i = 0; i < 3; i++) {
      servers.push(
        await startTestServer({
          db,
          clock: { now: () => Date.now() },
          env: {
            TOLLGATE_REDIS_URL: redis.url,
            TOLLGATE__alerts__ops: JSON.stringify({ type: "webhook", url: receiver.url }),
            TOLLGATE_LOG_LEVEL: "error",
          },
        }),
      );
    }
    let running = true;
    const degraded = new Set<number>();
    const traffic = servers.map(async (server, n) => {
      let i = 0;
      while (running) {
        const reply = await server.call("POST", "/v1/check", SERVICE, {
          subject: { org: `o${i++ % 50}` },
          category: "llm_call",
        });
        if (reply.body.degraded) degraded.add(n);
        await new Promise((r) => setTimeout(r, 5));
      }
    });
    try {
      await new Promise((r) => setTimeout(r, 300));
      await redis.kill();
      await receiver.received(1, 15_000);
      // Every instance sees the outage (its decisions degrade) before the store comes back.
      const deadline = Date.now() + 15_000;
      while (degraded.size < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(degraded.size).toBe(3);
      await redis.restart();
      await receiver.received(2, 25_000);
      // Every instance's breaker has closed again (no decision degraded) before counting.
      for (const server of servers) {
        const until = Date.now() + 15_000;
        while (Date.now() < until) {
          const reply = await server.call("POST", "/v1/check", SERVICE, {
            subject: { org: "probe" },
            category: "llm_call",
          });
          if (!reply.body.degraded) break;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      for (const server of servers) await server.ctx.alerts.drain();
      await new Promise((r) => setTimeout(r, 300));
      const [outage, recovery, ...more] = receiver.requests.map((r) => r.body);
      expect(outage).toMatchObject({ type: "store_degraded", subject: "store:redis" });
      expect(recovery).toMatchObject({ type: "store_recovered", subject: "store:redis", resolves: outage.id });
      expect(more).toEqual([]);
    } finally {
      running = false;
      await Promise.all(traffic);
      for (const server of servers) await server.close();
      await db.close();
      await receiver.close();
      await redis.stop();
    }
  }, 90_000);
});
