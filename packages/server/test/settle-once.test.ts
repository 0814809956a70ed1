import { type DecideResult, memoryStore, type Store } from "@tollgate/core";
import { type Db, openDb } from "@tollgate/db";
import { missing, type RedisServer, redisServerBinary, startRedis } from "@tollgate/testkit";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, SERVICE, startTestServer, type TestServer } from "./helpers.js";

const skip = missing(redisServerBinary, "redis-server");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(skip)("POST /v1/settle: at most once per decision id, across instances and store stalls", () => {
  let redis: RedisServer;
  let admin: Redis;
  let db: Db;
  const servers: TestServer[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    db = await openDb({ dir: "memory://" });
    for (let i = 0; i < 2; i++) {
      servers.push(
        await startTestServer({
          db,
          clock: { now: () => Date.now() },
          // Default store options (100 ms timeout): a paused Redis must be noticed.
          env: { TOLLGATE_REDIS_URL: redis.url, TOLLGATE_LOG_LEVEL: "warn", TOLLGATE__catalog__pollInterval: "200ms" },
        }),
      );
    }
    const [a, b] = servers as [TestServer, TestServer];
    await a.call("PUT", "/v1/admin/categories/llm", ADMIN, {
      limits: [
        { name: "tokens-hour", per: "user", algorithm: "fixed-window", limit: 100_000, window: "1h", unit: "tokens" },
      ],
    });
    // The category reaches the second instance with its catalog poll.
    for (let i = 0; i < 100; i++) {
      const probe = await b.call("GET", "/v1/usage?user=probe&category=llm", SERVICE);
      if (probe.status === 200) break;
      await sleep(100);
    }
  });
  afterAll(async () => {
    for (const server of servers) await server.close();
    admin?.disconnect();
    await db?.close();
    await redis?.stop();
  });

  async function decide(user: string, cost: number): Promise<string> {
    const decided = await (servers[0] as TestServer).call("POST", "/v1/check", SERVICE, {
      subject: { user },
      category: "llm",
      cost,
    });
    expect(decided.body).toMatchObject({ allowed: true });
    return decided.body.decisionId as string;
  }

  async function used(user: string): Promise<number> {
    const usage = await (servers[0] as TestServer).call("GET", `/v1/usage?user=${user}&category=llm`, SERVICE);
    return usage.body.limits[0].used as number;
  }

  it("the same decision settled 10 times at once on two instances: one applies, the others are 409", async () => {
    const decisionId = await decide("once-1", 500);
    expect(await used("once-1")).toBe(500);
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (servers[i % 2] as TestServer).call("POST", "/v1/settle", SERVICE, { decisionId, cost: 800 }),
      ),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([200, ...Array(9).fill(409)]);
    expect(answers.find((a) => a.status === 200)?.body).toMatchObject({ settled: true, delta: 300, applied: true });
    expect(await used("once-1")).toBe(800);
  });

  it("Redis paused past the timeout: the settle is refused (503, Retry-After) or not applied, and its retry applies exactly once", async () => {
    const decisionId = await decide("once-2", 500);
    await admin.call("CLIENT", "PAUSE", "1200", "ALL");
    const stalled = await (servers[0] as TestServer).call("POST", "/v1/settle", SERVICE, { decisionId, cost: 900 });
    if (stalled.status === 503) {
      expect(stalled.body).toMatchObject({ reason: "store_unavailable", retryAfter: 1 });
      expect(stalled.headers["retry-after"]).toBe("1");
    } else {
      expect(stalled.body).toMatchObject({ settled: true, applied: false });
    }
    // The paused calls land when Redis resumes; whatever they did is taken back.
    await sleep(1_500);
    let retried = await (servers[1] as TestServer).call("POST", "/v1/settle", SERVICE, { decisionId, cost: 900 });
    for (let i = 0; i < 20 && retried.status !== 200; i++) {
      // A compensation still in flight (its retry waits a second) may hold the claim a moment longer.
      await sleep(250);
      retried = await (servers[1] as TestServer).call("POST", "/v1/settle", SERVICE, { decisionId, cost: 900 });
    }
    expect(retried.body).toMatchObject({ settled: true, delta: 400, applied: true });
    await sleep(300);
    expect(await used("once-2")).toBe(900);
    const again = await (servers[0] as TestServer).call("POST", "/v1/settle", SERVICE, { decisionId, cost: 900 });
    expect(again.status).toBe(409);
  });
});

describe("POST /v1/settle: a settle-once check that times out never lets a retry charge twice", () => {
  it("the claim stalls past the timeout while adjustments work: 503, and the retry applies once", async () => {
    const inner = memoryStore();
    let stallClaims = false;
    let release: () => void = () => {};
    const stalled = new Promise<void>((resolve) => (release = resolve));
    // An asynchronous store (so the limiter's deadline applies) whose settle-once claims can be held.
    const store: Store = {
      name: "stalling",
      decide: async (request) => {
        if (stallClaims && request.items.some((item) => item.limit.name === "settle-once")) await stalled;
        return inner.decide(request) as DecideResult;
      },
      adjust: async (items) => inner.adjust(items),
      release: async (items) => inner.release(items),
      reset: async (items) => inner.reset(items),
    };
    const server = await startTestServer({
      store,
      clock: { now: () => Date.now() },
      env: { TOLLGATE_LOG_LEVEL: "warn" },
    });
    try {
      await server.call("PUT", "/v1/admin/categories/llm", ADMIN, {
        limits: [
          { name: "tokens-hour", per: "user", algorithm: "fixed-window", limit: 100_000, window: "1h", unit: "tokens" },
        ],
      });
      const decided = await server.call("POST", "/v1/check", SERVICE, {
        subject: { user: "u" },
        category: "llm",
        cost: 500,
      });
      const { decisionId } = decided.body;
      stallClaims = true;
      const first = await server.call("POST", "/v1/settle", SERVICE, { decisionId, cost: 900 });
      expect(first.status).toBe(503);
      expect(first.headers["retry-after"]).toBe("1");
      // The stalled claim lands after all (and is taken back: the caller was refused).
      stallClaims = false;
      release();
      await sleep(100);
      const retried = await server.call("POST", "/v1/settle", SERVICE, { decisionId, cost: 900 });
      expect(retried.body).toMatchObject({ settled: true, delta: 400, applied: true });
      const usage = await server.call("GET", "/v1/usage?user=u&category=llm", SERVICE);
      expect(usage.body.limits[0].used).toBe(900);
      expect((await server.call("POST", "/v1/settle", SERVICE, { decisionId, cost: 900 })).status).toBe(409);
    } finally {
      await server.close();
    }
  }, 120_000);
});
