import { createLimiter, manualClock, parseLimit } from "@tollgate/core";
import { redisStore, slotOf, subjectTag } from "@tollgate/redis";
import { missing, type RedisCluster, redisServerBinary, startRedisCluster } from "@tollgate/testkit";
import { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uniquePrefix } from "./helpers.js";

const skip = missing(redisServerBinary, "redis-server");

describe.skipIf(skip)("Redis Cluster (3 masters)", () => {
  let cluster: RedisCluster;
  let raw: Cluster;
  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    raw = new Cluster(cluster.nodes.map((node) => ({ host: "127.0.0.1", port: Number(node.split(":")[1]) })));
  });
  afterAll(async () => {
    raw?.disconnect();
    await cluster?.stop();
  });

  it("hostile ids land in the slot Redis computes for their tag, and never share a key", async () => {
    const prefix = uniquePrefix("slot");
    const store = redisStore({ nodes: cluster.nodes, prefix });
    const limit = parseLimit({ name: "m", per: "user", algorithm: "fixed-window", limit: 5, window: "1h" });
    const ids = ["{a}", "a", "a:b", "}{", "\u{1F600}", "x".repeat(256), "x".repeat(255)];
    for (const id of ids) {
      const result = await store.decide({ items: [{ counter: "c", id, limit, cost: 1 }], charge: true });
      expect(result.outcomes[0]?.used).toBe(1); // a fresh counter each: no two ids share one
      const tag = subjectTag("user", id);
      expect(Number(await raw.call("CLUSTER", "KEYSLOT", `${prefix}:{${tag}}:anything`))).toBe(slotOf(tag));
    }
    await store.close();
  });

  it("a decision over user + org + ip (three slots) never over-admits under concurrency", async () => {
    const store = redisStore({ nodes: cluster.nodes, prefix: uniquePrefix("multi") });
    const limiter = createLimiter({
      store,
      timeoutMs: 5_000,
      limits: [
        { name: "user", per: "user", algorithm: "fixed-window", limit: 1000, window: "1h" },
        { name: "org", per: "org", algorithm: "token-bucket", limit: 40, window: "1h" },
        { name: "ip", per: "ip", algorithm: "fixed-window", limit: 30, window: "1h" },
      ],
    });
    const subject = (i: number) => ({ user: `u${i % 7}`, org: i % 2 ? "acme" : "globex", ip: "203.0.113.7" });
    const slots = new Set(
      ["user:u1", "org:acme", "ip:203.0.113.7"].map((s) =>
        slotOf(subjectTag(s.split(":")[0] as string, s.slice(s.indexOf(":") + 1))),
      ),
    );
    expect(slots.size).toBe(3);
    const decisions = await Promise.all(Array.from({ length: 200 }, (_, i) => limiter.check({ subject: subject(i) })));
    const admitted = decisions.filter((d) => d.allowed).length;
    expect(admitted).toBeLessThanOrEqual(30);
    expect(admitted).toBeGreaterThan(0);
    // Refunds ran before the answers: the ip counter holds exactly the admitted requests.
    const peek = await limiter.peek({ subject: subject(0) });
    expect(peek.limits.find((l) => l.name === "ip")?.used).toBe(admitted);
    await store.close();
  });

  it("a denial by one slot group leaves the other groups uncharged", async () => {
    const clock = manualClock(Date.UTC(2026, 4, 12));
    const store = redisStore({ nodes: cluster.nodes, clock, prefix: uniquePrefix("deny") });
    const limiter = createLimiter({
      store,
      clock,
      timeoutMs: 5_000,
      limits: [
        { name: "user", per: "user", algorithm: "token-bucket", limit: 100, window: "1h" },
        { name: "org", per: "org", algorithm: "fixed-window", limit: 1, window: "1h" },
        { name: "ip", per: "ip", algorithm: "sliding-window", limit: 100, window: "1h" },
      ],
    });
    expect((await limiter.check({ subject: { user: "a", org: "o", ip: "1.2.3.4" } })).allowed).toBe(true);
    const denied = await limiter.check({ subject: { user: "b", org: "o", ip: "5.6.7.8" } });
    expect(denied.allowed).toBe(false);
    expect(denied.limits.find((l) => l.name === "user")?.used).toBe(0);
    const peek = await limiter.peek({ subject: { user: "b", org: "o", ip: "5.6.7.8" } });
    expect(peek.limits.map((l) => [l.name, l.used])).toEqual([
      ["user", 0],
      ["org", 1],
      ["ip", 0],
    ]);
    await store.close();
  });
});
