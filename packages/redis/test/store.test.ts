import { createLimiter, manualClock } from "@tollgate/core";
import { encodeId, type RedisStore, redisCacheBackend, redisStore, slotOf, subjectTag } from "@tollgate/redis";
import { missing, type RedisServer, redisServerBinary, startRedis } from "@tollgate/testkit";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uniquePrefix } from "./helpers.js";

const skip = missing(redisServerBinary, "redis-server");
/** Tests about behaviour, not latency: a loaded CI machine must not turn a slow answer into a degraded one. */
const patient = { timeoutMs: 5_000, breaker: false } as const;
const start = Date.UTC(2026, 4, 12, 10, 0, 0);

describe("key encoding", () => {
  const hostile = [
    "a",
    "{a}",
    "a}b{c",
    "a:b",
    "user:a",
    "é",
    "e\u0301",
    "\u{1F600}",
    "\ud800",
    "\ufffd",
    "x".repeat(256),
    "x".repeat(255),
  ];
  it("never collides and keeps the tag free of braces", () => {
    const encoded = hostile.map(encodeId);
    expect(new Set(encoded).size).toBe(hostile.length);
    for (const id of encoded) {
      expect(id).not.toMatch(/[{}:]/);
      expect(id.length).toBeLessThanOrEqual(64);
    }
  });
  it("puts every key of a subject in the slot of its tag, whatever the id", () => {
    for (const id of hostile) {
      const tag = subjectTag("user", id);
      const key = `tg:{${tag}}:counter`;
      // Redis hashes only what is between the first { and the next }.
      const hashed = key.slice(key.indexOf("{") + 1, key.indexOf("}", key.indexOf("{")));
      expect(hashed).toBe(tag);
      expect(slotOf(tag)).toBeGreaterThanOrEqual(0);
    }
    expect(slotOf("123456789")).toBe(12739); // the CRC16 check value of the Redis Cluster spec
  });
});

describe.skipIf(skip)("redis store on a real server", () => {
  let redis: RedisServer;
  let raw: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    raw = new Redis(redis.url);
  });
  afterAll(async () => {
    raw?.disconnect();
    await redis?.stop();
  });

  it("every key carries the TTL its algorithms need: one hash per subject, one ZSET per lease counter", async () => {
    const prefix = uniquePrefix("ttl");
    const store = redisStore({ url: redis.url, prefix });
    const limiter = createLimiter({
      ...patient,
      store,
      limits: [
        { name: "fw", per: "user", algorithm: "fixed-window", limit: 5, window: "1m" },
        { name: "sw", per: "user", algorithm: "sliding-window", limit: 5, window: "1m" },
        { name: "tb", per: "user", algorithm: "token-bucket", limit: 5, window: "1m" },
        { name: "q", per: "user", algorithm: "quota", period: "day", limit: 5 },
        { name: "cc", per: "user", algorithm: "concurrency", limit: 5, window: "30s" },
      ],
    });
    expect((await limiter.check({ subject: { user: "t" } })).allowed).toBe(true);
    const keys = await raw.keys(`${prefix}:*`);
    expect(keys.length).toBe(2);
    expect(await raw.hlen(keys.find((key) => key.endsWith("}")) as string)).toBe(4); // fw, sw, tb, q
    for (const key of keys) {
      const ttl = await raw.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(86_400_000);
    }
    await store.close();
  });

  it("a subject's hash lives as long as its longest state, and no longer", async () => {
    const prefix = uniquePrefix("hashttl");
    const store = redisStore({ url: redis.url, prefix });
    const short = { name: "short", per: "user", algorithm: "fixed-window", limit: 5, window: "2s" } as const;
    const long = { name: "long", per: "user", algorithm: "token-bucket", limit: 1, window: "1m" } as const;
    const first = createLimiter({ ...patient, store, limits: [short] });
    await first.check({ subject: { user: "h" } });
    const [key] = await raw.keys(`${prefix}:*`);
    expect(await raw.pttl(key as string)).toBeLessThanOrEqual(2_000);
    // A longer-lived state in the same hash extends it: one token of a 1/min bucket is 60 s of debt.
    const both = createLimiter({ ...patient, store, limits: [short, long] });
    await both.check({ subject: { user: "h" } });
    const ttl = await raw.pttl(key as string);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    await store.close();
  });

  it("batches decisions issued in the same tick into one script call, in order", async () => {
    const store = redisStore({ url: redis.url, prefix: uniquePrefix("batch"), denyCache: false });
    const limiter = createLimiter({
      ...patient,
      store,
      limits: [{ name: "m", per: "user", algorithm: "fixed-window", limit: 10, window: "1h" }],
    });
    await store.ping?.();
    const before = store.stats().decideCalls;
    const decisions = await Promise.all(Array.from({ length: 50 }, () => limiter.check({ subject: { user: "b" } })));
    expect(store.stats().decideCalls - before).toBe(1);
    expect(decisions.map((d) => d.allowed)).toEqual(Array.from({ length: 50 }, (_, i) => i < 10));
    expect(decisions.map((d) => d.limits[0]?.remaining).slice(0, 10)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    await store.close();
  });

  it("answers repeated denials locally until the window ends, honouring the testing clock", async () => {
    const clock = manualClock(start);
    const store = redisStore({ url: redis.url, prefix: uniquePrefix("deny"), clock });
    const limiter = createLimiter({
      ...patient,
      store,
      clock,
      limits: [{ name: "m", per: "user", algorithm: "fixed-window", limit: 2, window: "1m" }],
    });
    await limiter.check({ subject: { user: "d" } });
    await limiter.check({ subject: { user: "d" } });
    const first = await limiter.check({ subject: { user: "d" } });
    expect(first).toMatchObject({ allowed: false, retryAfter: 60 });
    clock.advance(30_000);
    const local = await limiter.check({ subject: { user: "d" } });
    expect(local).toMatchObject({ allowed: false, retryAfter: 30 });
    expect(store.stats().denyCacheHits).toBe(1);
    clock.advance(30_000); // the window ends: the cache must not answer any more
    expect((await limiter.check({ subject: { user: "d" } })).allowed).toBe(true);
    expect(store.stats().denyCacheHits).toBe(1);
    // A reset through this store drops the remembered denial at once.
    await limiter.check({ subject: { user: "d" } });
    expect((await limiter.check({ subject: { user: "d" } })).allowed).toBe(false);
    await limiter.reset({ user: "d" });
    expect((await limiter.check({ subject: { user: "d" } })).allowed).toBe(true);
    await store.close();
  });

  it("two limiters with clocks 5 s apart make the same decisions (Redis TIME decides)", async () => {
    const store = redisStore({ url: redis.url, prefix: uniquePrefix("skew") });
    const spec = [{ name: "m", per: "user" as const, algorithm: "token-bucket" as const, limit: 3, window: "1h" }];
    const ahead = createLimiter({ store, limits: spec, clock: { now: () => Date.now() + 5_000 }, ...patient });
    const behind = createLimiter({ store, limits: spec, clock: { now: () => Date.now() - 5_000 }, ...patient });
    const answers = [];
    for (const limiter of [ahead, behind, ahead, behind, ahead]) {
      answers.push((await limiter.check({ subject: { user: "s" } })).allowed);
    }
    expect(answers).toEqual([true, true, true, false, false]);
    await store.close();
  });

  it("the cache backend stores with PX and reports Redis time", async () => {
    const cache = redisCacheBackend(raw, { prefix: uniquePrefix("cache") });
    await cache.set("abc", "value with spaces", 5_000);
    const got = await cache.get("abc");
    expect(got?.value).toBe("value with spaces");
    expect(Math.abs((got?.storedAt ?? 0) - Date.now())).toBeLessThan(5_000);
    await cache.delete("abc");
    expect(await cache.get("abc")).toBeUndefined();
  });

  it("claimOnce: of 50 concurrent claims over three clients exactly one wins; the key expires with its TTL and hides the name", async () => {
    const prefix = uniquePrefix("claim");
    const stores = [0, 1, 2].map(() => redisStore({ url: redis.url, prefix }));
    const name = "threshold_crossed|c:llm_call|org-minute|org:acme|1773144000000";
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => (stores[i % 3] as RedisStore).claimOnce?.(name, 60_000)),
    );
    expect(answers.filter((won) => won === true)).toHaveLength(1);
    const keys = await raw.keys(`${prefix}:claim:*`);
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toContain("acme");
    const ttl = await raw.pttl(keys[0] as string);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await stores[0]?.claimOnce?.("another", 60_000)).toBe(true);
    for (const store of stores) await store.close();
  });
});

describe.skipIf(skip)("outage: kill Redis mid-load and restart it", () => {
  it("decides per failMode within the timeout, never crashes, recovers within 2 s", async () => {
    const redis = await startRedis();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    const store = redisStore({ url: redis.url, prefix: uniquePrefix("outage") });
    const limiter = (failMode: "open" | "closed") =>
      createLimiter({
        store,
        limits: [{ name: "m", per: "user", algorithm: "fixed-window", limit: 1e9, window: "1h", failMode }],
        breaker: { failureThreshold: 5, coolDownMs: 200 },
      });
    const open = limiter("open");
    const closed = limiter("closed");
    await store.ping?.();
    let running = true;
    const load = (async () => {
      while (running) {
        await Promise.all(Array.from({ length: 16 }, (_, i) => open.check({ subject: { user: `l${i}` } })));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 200));
    await redis.kill();
    for (const [lim, allowed] of [
      [open, true],
      [closed, false],
    ] as const) {
      const t0 = performance.now();
      const decision = await lim.check({ subject: { user: "x" } });
      expect(performance.now() - t0).toBeLessThan(250);
      expect(decision).toMatchObject({ allowed, degraded: true, reason: "store_unavailable" });
    }
    await redis.restart();
    const restarted = performance.now();
    let recovered = false;
    while (performance.now() - restarted < 2_000) {
      const decision = await closed.check({ subject: { user: "y" } });
      if (decision.allowed && !decision.degraded) {
        recovered = true;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    running = false;
    await load;
    expect(recovered).toBe(true);
    expect(unhandled).toEqual([]);
    process.off("unhandledRejection", onUnhandled);
    await store.close();
    await redis.stop();
  });
});
