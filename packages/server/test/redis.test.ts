import { type Db, openDb } from "@tollgate/db";
import { missing, type RedisServer, redisServerBinary, startRedis } from "@tollgate/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, SERVICE, startTestServer, type TestServer } from "./helpers.js";

const skip = missing(redisServerBinary, "redis-server");

describe.skipIf(skip)("three instances sharing one Redis and one database", () => {
  let redis: RedisServer;
  let db: Db;
  const servers: TestServer[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    db = await openDb({ dir: "memory://" });
    for (let i = 0; i < 3; i++) {
      servers.push(
        await startTestServer({
          db,
          clock: { now: () => Date.now() },
          env: {
            TOLLGATE_REDIS_URL: redis.url,
            TOLLGATE__catalog__pollInterval: "200ms",
            TOLLGATE_LOG_LEVEL: "warn",
            // Exactness is the subject here, not latency: on a loaded CI machine a 100 ms timeout
            // would turn slow answers into fail-open (degraded) ones, which are not counted.
            TOLLGATE__stores__timeoutMs: "5000",
          },
        }),
      );
    }
  });
  afterAll(async () => {
    for (const server of servers) await server.close();
    await db?.close();
    await redis?.stop();
  });

  /** Polls until `predicate` holds, failing after `ms`. Returns the time it took. */
  async function within(ms: number, predicate: () => Promise<boolean>) {
    const start = Date.now();
    while (!(await predicate())) {
      if (Date.now() - start > ms) throw new Error(`not within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return Date.now() - start;
  }

  it("happy: /readyz reports the redis store", async () => {
    const ready = await servers[0]?.call("GET", "/readyz");
    expect(ready?.status).toBe(200);
    expect(Object.keys(ready?.body.checks ?? {}).some((k) => k.startsWith("store:") && k !== "store:memory")).toBe(
      true,
    );
  });

  it("happy: a limit of 100 admits exactly 100 across three instances under concurrent load", async () => {
    const [a, b, c] = servers as [TestServer, TestServer, TestServer];
    const put = await a.call("PUT", "/v1/admin/categories/shared100", ADMIN, {
      limits: [{ name: "hour", per: "global", algorithm: "fixed-window", limit: 100, window: "1h" }],
    });
    expect(put.status).toBe(200);
    // The other instances learn the new category through the version poll.
    for (const server of [b, c]) {
      await within(5000, async () => server.ctx.limiter.config.knownCategories.has("shared100"));
    }
    const requests = Array.from({ length: 300 }, (_, i) =>
      (servers[i % 3] as TestServer).call("POST", "/v1/check", SERVICE, {
        subject: { user: `u${i}` },
        category: "shared100",
      }),
    );
    const results = await Promise.all(requests);
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(results.filter((r) => r.body.degraded).length).toBe(0);
    expect(results.filter((r) => r.body.allowed).length).toBe(100);
  });

  it("happy: a plan edited on one instance applies on the others within a few seconds", async () => {
    const [a, b, c] = servers as [TestServer, TestServer, TestServer];
    await a.call("PUT", "/v1/admin/plans/edited", ADMIN, {
      limits: [{ name: "minute", per: "user", algorithm: "fixed-window", limit: 1, window: "1m" }],
    });
    await within(
      5000,
      async () =>
        (await c.call("POST", "/v1/check", SERVICE, { subject: { user: "e1" }, plan: "edited" })).status === 200,
    );
    await a.call("PUT", "/v1/admin/plans/edited", ADMIN, {
      limits: [{ name: "minute", per: "user", algorithm: "fixed-window", limit: 7, window: "1m" }],
    });
    const took = await within(5000, async () => {
      const res = await b.call("POST", "/v1/check", SERVICE, { subject: { user: "e2" }, plan: "edited", dryRun: true });
      return res.body.limits?.[0]?.limit === 7;
    });
    expect(took).toBeLessThan(5000);
  });
});
