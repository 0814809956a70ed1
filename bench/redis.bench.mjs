// Redis store decisions/s and latency against rate-limiter-flexible's RateLimiterRedis,
// rate-limit-redis (express-rate-limit's store interface, called directly) and the floor: one
// EVALSHA of INCRBY+PEXPIRE per decision on ioredis. Same run, same redis-server (started here),
// 256 decisions in flight, over 10,000 keys and on one hot key; plus Tollgate with 5 limits.
// Run: npm run bench -- redis   (or: npx tsc -b && node --expose-gc bench/redis.bench.mjs)
import { createLimiter } from "@tollgate/core";
import { redisStore } from "@tollgate/redis";
import { startRedis } from "@tollgate/testkit";
import { Redis } from "ioredis";
import { RedisStore as RateLimitRedisStore } from "rate-limit-redis";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { machine, table, writeSection } from "./section.mjs";

const IN_FLIGHT = 256;
const KEYS = 10_000;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const WINDOW_MS = 3_600_000;
const HUGE = 1e12; // limits nobody reaches: every decision is a charge, as for the peers

/** Runs `decide(key)` with IN_FLIGHT callers for SECONDS (after a short warm-up). */
async function measure(decide, hot) {
  const keyOf = hot ? () => "hot" : () => `k${Math.floor(Math.random() * KEYS)}`;
  const run = async (ms, latencies) => {
    const deadline = performance.now() + ms;
    let done = 0;
    const worker = async () => {
      while (performance.now() < deadline) {
        const start = performance.now();
        await decide(keyOf());
        latencies?.push(performance.now() - start);
        done++;
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    return done / ((performance.now() - t0) / 1000);
  };
  await run(500);
  globalThis.gc?.();
  const latencies = [];
  const rate = await run(SECONDS * 1000, latencies);
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))];
  return { rate, p50: pct(0.5), p99: pct(0.99) };
}

const redis = await startRedis();
const clients = [];
const client = () => {
  const c = new Redis(redis.url);
  clients.push(c);
  return c;
};

const FLOOR_SCRIPT =
  "local n = redis.call('INCRBY', KEYS[1], ARGV[1]) redis.call('PEXPIRE', KEYS[1], ARGV[2]) return n";

function tollgate(limits) {
  const store = redisStore({ url: redis.url, prefix: `bench${limits}`, denyCache: false });
  const specs = Array.from({ length: limits }, (_, i) => ({
    name: `l${i}`,
    per: "user",
    algorithm: i % 2 ? "token-bucket" : "fixed-window",
    limit: HUGE,
    window: "1h",
  }));
  // Generous timeout: the bench measures throughput, not degradation.
  const limiter = createLimiter({ store, limits: specs, timeoutMs: 5_000 });
  return {
    store,
    decide: async (key) => {
      const decision = await limiter.check({ subject: { user: key } });
      if (!decision.allowed || decision.degraded) throw new Error("unexpected denial");
    },
  };
}

const floorClient = client();
const floorSha = await floorClient.script("LOAD", FLOOR_SCRIPT);
const rlf = new RateLimiterRedis({ storeClient: client(), points: HUGE, duration: WINDOW_MS / 1000, keyPrefix: "rlf" });
const rlrClient = client();
const rlr = new RateLimitRedisStore({ sendCommand: (...args) => rlrClient.call(...args), prefix: "rlr:" });
rlr.init({ windowMs: WINDOW_MS });
const one = tollgate(1);
const five = tollgate(5);

const contenders = [
  ["raw EVALSHA floor (ioredis)", (key) => floorClient.evalsha(floorSha, 1, `floor:${key}`, 1, WINDOW_MS)],
  ["rate-limiter-flexible RateLimiterRedis", (key) => rlf.consume(key)],
  ["rate-limit-redis (express-rate-limit store)", (key) => rlr.increment(key)],
  ["Tollgate redisStore, 1 limit", one.decide],
  ["Tollgate redisStore, 5 limits", five.decide],
];

const rows = [];
const results = {};
for (const hot of [false, true]) {
  for (const [name, decide] of contenders) {
    const r = await measure(decide, hot);
    results[`${name}|${hot}`] = r;
    const row = [
      name,
      hot ? "1 hot key" : `${KEYS.toLocaleString("en")} keys`,
      Math.round(r.rate).toLocaleString("en"),
      r.p50.toFixed(2),
      r.p99.toFixed(2),
    ];
    rows.push(row);
    console.log(row.join(" | "));
  }
}

const floor = results["raw EVALSHA floor (ioredis)|false"];
const t1 = results["Tollgate redisStore, 1 limit|false"];
const t5 = results["Tollgate redisStore, 5 limits|false"];
const markdown = `## Redis store

${machine()}, ${(await floorClient.info("server")).match(/redis_version:(\S+)/)?.[1] ?? "?"} Redis on 127.0.0.1, one Node
process, ${IN_FLIGHT} decisions in flight, ${SECONDS} s per row after a 0.5 s warm-up. Every decision charges (limits are
never reached). Tollgate is measured through \`createLimiter().check()\`, the whole decision path; the peers through
their own consume/increment call. Latency is per decision, in ms.

${table(["contender", "keys", "decisions/s", "p50 ms", "p99 ms"], rows)}

Tollgate 1 limit vs the floor (10,000 keys): ${(t1.rate / floor.rate).toFixed(2)}x decisions/s, p99 ${t1.p99.toFixed(2)} vs
${floor.p99.toFixed(2)} ms. Cost of 5 limits vs 1 (time per decision): ${(t1.rate / t5.rate).toFixed(2)}x.
Decisions issued in the same event-loop turn go to Redis as one script call
(${one.store.stats().decideCalls.toLocaleString("en")} script calls for the 1-limit rows).
`;
console.log(markdown);
writeSection("redis", markdown);

await Promise.all([one.store.close(), five.store.close(), ...clients.map((c) => c.quit())]);
await redis.stop();
process.exit(0);
