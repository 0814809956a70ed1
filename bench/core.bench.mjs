// Memory store decisions/s against rate-limiter-flexible's RateLimiterMemory and
// express-rate-limit's MemoryStore, in one run; plus 5 limits per decision, and heap with 1M keys.
// Run: npm run bench -- core   (or: npx tsc -b && node --expose-gc bench/core.bench.mjs)

import { loadavg } from "node:os";
import { createLimiter, memoryStore, parseLimit, slidingWindow } from "@tollgate/core";
import { MemoryStore } from "express-rate-limit";
import { RateLimiterMemory } from "rate-limiter-flexible";
import { machine, table, writeSection } from "./section.mjs";

const SUBJECTS = 10_000;
const IN_FLIGHT = 100; // decisions issued together, then awaited (a busy server's event loop)
const DURATION_MS = Number(process.env.BENCH_MS ?? 3_000);
const ids = Array.from({ length: SUBJECTS }, (_, i) => `user-${i}`);

/** Runs `decide(i)` in waves of IN_FLIGHT for DURATION_MS; returns decisions per second (best of 3 runs). */
async function measure(decide) {
  let best = 0;
  for (let run = 0; run < 3; run++) {
    let done = 0;
    const started = performance.now();
    const wave = new Array(IN_FLIGHT);
    while (performance.now() - started < DURATION_MS / 3) {
      for (let k = 0; k < IN_FLIGHT; k++) wave[k] = decide(done + k);
      await Promise.all(wave);
      done += IN_FLIGHT;
    }
    best = Math.max(best, done / ((performance.now() - started) / 1000));
  }
  return best;
}

const fmt = (n) => Math.round(n).toLocaleString("en-US");
const huge = 1_000_000_000; // never denies: we measure the decision path, not the denial path

const subjects = ids.map((user, i) => ({ subject: { user, org: `org-${i % 100}`, ip: "203.0.113.7" } }));

function tollgate(limits) {
  const limiter = createLimiter({ store: memoryStore(), limits });
  return {
    check: () => measure((i) => limiter.check(subjects[i % SUBJECTS])),
    checkSync: () => measure((i) => limiter.checkSync(subjects[i % SUBJECTS])),
  };
}

const fixed = (window) => [{ name: "w", per: "user", algorithm: "fixed-window", limit: huge, window }];
const fiveLimits = [
  ...fixed("1m"),
  { name: "hour", per: "user", algorithm: "sliding-window", limit: huge, window: "1h" },
  { name: "burst", per: "user", algorithm: "token-bucket", limit: huge, window: "1s", burst: huge },
  { name: "month", per: "org", algorithm: "quota", period: "month", limit: huge },
  { name: "ip", per: "ip", algorithm: "fixed-window", limit: huge, window: "1s" },
];

/** Exactness: 300 concurrent decisions on one key with limit 100 must admit exactly 100. */
async function admitted(decide) {
  const results = await Promise.all(Array.from({ length: 300 }, () => decide()));
  return results.filter(Boolean).length;
}
function erlStore(windowMs) {
  const store = new MemoryStore();
  store.init({ windowMs });
  return store;
}
const exactLimiter = createLimiter({ store: memoryStore(), limits: [{ ...fixed("1m")[0], limit: 100 }] });
const exactRlf = new RateLimiterMemory({ points: 100, duration: 60 });
const exactErl = erlStore(60_000);
const exact = {
  tollgate: await admitted(() => exactLimiter.check({ subject: { user: "hot" } }).then((d) => d.allowed)),
  rlf: await admitted(() =>
    exactRlf.consume("hot").then(
      () => true,
      () => false,
    ),
  ),
  erl: await admitted(() => exactErl.increment("hot").then((r) => r.totalHits <= 100)),
};
exactErl.shutdown();

// Each contender with a 1 s window (keys roll over during the run: rate-limiter-flexible then
// pays its timer per key) and a 1 min window (no rollover during the run).
const results = {};
for (const [label, window, seconds] of [
  ["1s", "1s", 1],
  ["1m", "1m", 60],
]) {
  const ours = tollgate(fixed(window));
  const rlf = new RateLimiterMemory({ points: huge, duration: seconds });
  const erl = erlStore(seconds * 1000);
  results[label] = {
    check: await ours.check(),
    checkSync: await ours.checkSync(),
    rlf: await measure((i) => rlf.consume(ids[i % SUBJECTS])),
    erl: await measure((i) => erl.increment(ids[i % SUBJECTS]).then((r) => r.totalHits <= huge)),
  };
  erl.shutdown();
}
const five = tollgate(fiveLimits);
const fiveResults = { check: await five.check(), checkSync: await five.checkSync() };

// Heap with 1,000,000 live keys (one fixed-window counter each).
globalThis.gc?.();
const before = process.memoryUsage();
const store = memoryStore({ sweepPerOperation: 0 });
const big = createLimiter({ store, limits: fixed("1m") });
for (let i = 0; i < 1_000_000; i++) await big.check({ subject: { user: `u${i}` } });
globalThis.gc?.();
const after = process.memoryUsage();
const heapMb = (after.heapUsed - before.heapUsed + (after.arrayBuffers - before.arrayBuffers)) / 2 ** 20;

// Sliding-window approximation vs an exact sliding log, on random traffic (deterministic PRNG).
function slidingError(ratePerWindow, limit = 100, windows = 400) {
  const spec = parseLimit({ name: "s", per: "user", algorithm: "sliding-window", limit, window: "60s" });
  let seed = 42;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  let state;
  const log = [];
  const admittedAt = [];
  let differ = 0;
  let total = 0;
  for (let t = 0; t < windows * 60_000; ) {
    t += -Math.log(1 - random()) * (60_000 / ratePerWindow) * (random() < 0.1 ? 8 : 0.3); // bursty arrivals
    const charge = slidingWindow.charge(state, spec, 1, t);
    while (log.length && log[0] <= t - 60_000) log.shift();
    const exactAllows = log.length + 1 <= limit;
    if (exactAllows) log.push(t);
    if (charge.fits) {
      state = charge.next;
      admittedAt.push(t);
    }
    if (charge.fits !== exactAllows) differ++;
    total++;
  }
  let worst = 0;
  for (let i = 0, j = 0; i < admittedAt.length; i++) {
    while (admittedAt[j] <= admittedAt[i] - 60_000) j++;
    worst = Math.max(worst, i - j + 1);
  }
  return { differ: (100 * differ) / total, worst: worst / limit, total };
}
const sliding = [100, 150, 300].map((rate) => ({ rate, ...slidingError(rate) }));

const ratio = (a, b) => `${(a / b).toFixed(2)}x`;
const rows = ["1s", "1m"].flatMap((w) => {
  const r = results[w];
  return [
    [`Tollgate \`check\` (promise), ${w} window`, fmt(r.check), ratio(r.check, r.rlf), ratio(r.check, r.erl)],
    [`Tollgate \`checkSync\`, ${w} window`, fmt(r.checkSync), ratio(r.checkSync, r.rlf), ratio(r.checkSync, r.erl)],
    [`rate-limiter-flexible RateLimiterMemory, ${w}`, fmt(r.rlf), "1.00x", ratio(r.rlf, r.erl)],
    [`express-rate-limit MemoryStore.increment, ${w}`, fmt(r.erl), ratio(r.erl, r.rlf), "1.00x"],
  ];
});
const markdown = `## Core: memory store (\`npm run bench -- core\`)

Machine: ${machine()}; load average at the end ${loadavg()[0].toFixed(2)}. ${SUBJECTS.toLocaleString("en-US")} subjects, one fixed-window limit, ${IN_FLIGHT} decisions in flight (issued, then awaited together), best of 3 runs of ${DURATION_MS / 3000} s each.
Tollgate answers a full decision (every limit's remaining, reset, retry-after); the peers answer one counter.

${table(["contender", "decisions/s", "vs rate-limiter-flexible", "vs express-rate-limit"], rows)}

Exactness, 300 concurrent decisions on one key with a limit of 100 (admitted): Tollgate ${exact.tollgate}, rate-limiter-flexible ${exact.rlf}, express-rate-limit MemoryStore ${exact.erl} (its \`increment\` answers share one mutable record, so concurrent callers all see the final count).

- 5 limits per decision (fixed, sliding, token bucket, monthly quota, per-ip): \`check\` ${fmt(fiveResults.check)}/s, \`checkSync\` ${fmt(fiveResults.checkSync)}/s: **${(results["1m"].checkSync / fiveResults.checkSync).toFixed(2)}x** the cost of one limit.
- Sliding-window approximation vs an exact sliding log (limit 100 per 60 s, bursty random arrivals, 400 windows):

${table(
  [
    "offered load (requests per window)",
    "decisions that differ from the exact log",
    "most admitted in any rolling 60 s / limit",
  ],
  sliding.map((r) => [`${r.rate}`, `${r.differ.toFixed(2)} %`, r.worst.toFixed(2)]),
)}

- Heap for 1,000,000 live keys (one fixed-window counter each, heap + array buffers after GC): **${heapMb.toFixed(1)} MB** (${store.size.toLocaleString("en-US")} counters).
`;
console.log(markdown);
writeSection("core", markdown);
