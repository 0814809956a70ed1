// Redis store decisions/s and latency against rate-limiter-flexible's RateLimiterRedis,
// rate-limit-redis (express-rate-limit's store interface, called directly) and the floor: one
// EVALSHA of INCRBY+PEXPIRE per decision on ioredis. Fair by construction: one redis-server
// (started here, pinned to its own core when `taskset` exists, the Node process on another), one
// ioredis connection per contender, the same 256 decisions in flight, the same keys (10,000
// random subjects, then one hot subject), every decision a charge (limits are never reached).
// Each row is measured BENCH_ROUNDS times, interleaved with the others, and the best kept: the
// machine is shared, and the best round is the least disturbed one.
// Run: npm run bench -- redis   (or: npx tsc -b && node --expose-gc bench/redis.bench.mjs)
import { execFileSync } from "node:child_process";
import { cpus, loadavg } from "node:os";
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
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const WINDOW_MS = 3_600_000;
const HUGE = 1e12; // limits nobody reaches: every decision is a charge, as for the peers

/** Pins a process (all its threads) to one CPU when taskset exists and there are 2+ CPUs. */
function pin(pid, cpu) {
  if (cpus().length < 2) return false;
  try {
    execFileSync("taskset", ["-a", "-p", "-c", String(cpu), String(pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

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
const admin = client();
const redisPid = Number((await admin.info("server")).match(/process_id:(\d+)/)?.[1]);
const pinned = pin(redisPid, 1) && pin(process.pid, 0);

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

const FLOOR = "raw EVALSHA floor (ioredis)";
const ONE = "Tollgate redisStore, 1 limit";
const FIVE = "Tollgate redisStore, 5 limits";
const contenders = [
  [FLOOR, (key) => floorClient.evalsha(floorSha, 1, `floor:${key}`, 1, WINDOW_MS)],
  ["rate-limiter-flexible RateLimiterRedis", (key) => rlf.consume(key)],
  ["rate-limit-redis (express-rate-limit store)", (key) => rlr.increment(key)],
  [ONE, one.decide],
  [FIVE, five.decide],
];

/** Redis CPU seconds (user + sys) so far, from INFO: what one row cost Redis, per decision. */
async function redisCpu() {
  const info = await admin.info("cpu");
  return Number(info.match(/used_cpu_user:([\d.]+)/)?.[1]) + Number(info.match(/used_cpu_sys:([\d.]+)/)?.[1]);
}
/** Commands Redis ran (scripts' inner commands included), per decision, from INFO commandstats. */
async function commandsPerDecision(decisions) {
  const info = await admin.info("commandstats");
  return [...info.matchAll(/cmdstat_(\w+):calls=(\d+)/g)]
    .filter(([, name]) => !["info", "config"].includes(name))
    .map(([, name, calls]) => `${name} ${(Number(calls) / decisions).toFixed(2)}`)
    .join(", ");
}

const loadBefore = loadavg()[0];
const best = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const hot of [false, true]) {
    for (const [name, decide] of contenders) {
      await admin.config("RESETSTAT");
      const cpuBefore = await redisCpu();
      const r = await measure(decide, hot);
      const decisions = r.rate * (SECONDS + 0.5); // the warm-up ran at about the same rate
      r.redisUs = (((await redisCpu()) - cpuBefore) * 1e6) / decisions;
      r.commands = await commandsPerDecision(decisions);
      const id = `${name}|${hot}`;
      if (!best[id] || r.rate > best[id].rate) best[id] = r;
      console.log(
        `round ${round + 1} | ${name} | ${hot ? "hot" : "10k"} | ${Math.round(r.rate)}/s | p99 ${r.p99.toFixed(2)} | Redis ${r.redisUs.toFixed(2)} us CPU/decision | ${r.commands}`,
      );
    }
  }
}

const rows = [];
for (const hot of [false, true]) {
  const floor = best[`${FLOOR}|${hot}`];
  for (const [name] of contenders) {
    const r = best[`${name}|${hot}`];
    rows.push([
      name,
      hot ? "1 hot key" : `${KEYS.toLocaleString("en")} keys`,
      Math.round(r.rate).toLocaleString("en"),
      `${(r.rate / floor.rate).toFixed(2)}x`,
      r.p50.toFixed(2),
      r.p99.toFixed(2),
      r.redisUs.toFixed(2),
    ]);
  }
}

const summary = (hot) => {
  const floor = best[`${FLOOR}|${hot}`];
  const t1 = best[`${ONE}|${hot}`];
  const t5 = best[`${FIVE}|${hot}`];
  const met = (ok) => (ok ? "**met**" : "**not met**");
  const speed = t1.rate / floor.rate;
  const five = t1.rate / t5.rate;
  return `${hot ? "one hot key" : `${KEYS.toLocaleString("en")} keys`}: Tollgate 1 limit ${speed.toFixed(2)}x the floor's decisions/s (target >= 2x: ${met(speed >= 2)}), p99 ${t1.p99.toFixed(2)} vs ${floor.p99.toFixed(2)} ms; 5 limits cost ${five.toFixed(2)}x one (target <= 1.4x: ${met(five <= 1.4)}). Redis CPU per decision: floor ${floor.redisUs.toFixed(2)} us (${floor.commands}); 1 limit ${t1.redisUs.toFixed(2)} us (${t1.commands}); 5 limits ${t5.redisUs.toFixed(2)} us (${t5.commands})`;
};
const loadAfter = loadavg()[0];
const markdown = `## Redis store

${machine()}, Redis ${(await admin.info("server")).match(/redis_version:(\S+)/)?.[1] ?? "?"} on 127.0.0.1${pinned ? " pinned to CPU 1, the Node process to CPU 0" : " (not pinned: no taskset)"}; load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after (the machine is shared).
One Node process, ${IN_FLIGHT} decisions in flight for every contender, each on its own ioredis connection; ${SECONDS} s per row after
a 0.5 s warm-up, best of ${ROUNDS} interleaved rounds. Every decision charges (limits are never reached). Tollgate is
measured through \`createLimiter().check()\`, the whole decision path (5 limits: fixed-window and token-bucket
alternately); the peers through their own consume/increment call. Latency is per decision, in ms. Redis CPU
is the server's user + system CPU time over the row (INFO cpu) per decision; commands per decision come from
INFO commandstats (a script's inner commands included).

${table(["contender", "keys", "decisions/s", "vs floor", "p50 ms", "p99 ms", "Redis CPU us/decision"], rows)}

- ${summary(false)}.
- ${summary(true)}.
- Why the Redis rows stop where they do (Redis CPU per decision against the floor's, per limit):
  [redis-decision-path.md](redis-decision-path.md#ceiling-of-the-redis-rows). On a loaded machine the Node
  process, not Redis, is what runs out first: read the ratios, not the absolute rates.
- Batching: ${(one.store.stats().decideCalls + five.store.stats().decideCalls).toLocaleString("en")} script calls for all Tollgate rows
  (decisions issued in the same event-loop turn go as one call, at most 128 decisions or 256 limits).
`;
console.log(markdown);
writeSection("redis", markdown);

await Promise.all([one.store.close(), five.store.close(), ...clients.map((c) => c.quit())]);
await redis.stop();
process.exit(0);
