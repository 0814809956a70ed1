// What each layer of a memory-store decision costs, in CPU nanoseconds per decision (process
// CPU time, so other jobs on the machine do not move it): the ceiling of `check` against
// rate-limiter-flexible. 7 interleaved rounds of 300,000 decisions each, median.
// Run: npx tsc -b && node bench/core-ceiling.mjs   (not part of `npm run bench`: a diagnosis tool)
import { createLimiter, memoryStore, parseLimit } from "@tollgate/core";
import { RateLimiterMemory } from "rate-limiter-flexible";

const SUBJECTS = 10_000;
const OPS = 300_000;
const huge = 1_000_000_000;
const spec = { name: "w", per: "user", algorithm: "fixed-window", limit: huge, window: "1m" };
const limit = parseLimit(spec);
const ids = Array.from({ length: SUBJECTS }, (_, i) => `user-${i}`);
const requests = ids.map((id) => ({ items: [{ counter: "g|w", id, limit, cost: 1 }], charge: true }));
const subjects = ids.map((user, i) => ({ subject: { user, org: `org-${i % 100}`, ip: "203.0.113.7" } }));
const store = memoryStore();
const limiter = createLimiter({ store: memoryStore(), limits: [spec] });
const rlf = new RateLimiterMemory({ points: huge, duration: 60 });
const map = new Map(ids.map((id) => [id, { start: 0, count: 0 }]));

const layers = {
  "await of a resolved promise": [(i) => Promise.resolve(i), true],
  "one Map get + set of a new object, 10k string keys": [
    (i) => {
      const id = ids[i % SUBJECTS];
      const state = map.get(id);
      map.set(id, { start: state.start, count: state.count + 1 });
    },
    false,
  ],
  "memoryStore().decide alone (one item)": [(i) => store.decide(requests[i % SUBJECTS]), false],
  "limiter.checkSync": [(i) => limiter.checkSync(subjects[i % SUBJECTS]), false],
  "await limiter.check": [(i) => limiter.check(subjects[i % SUBJECTS]), true],
  "await rateLimiterMemory.consume": [(i) => rlf.consume(ids[i % SUBJECTS]), true],
};

async function nanoseconds(decide, awaited) {
  const before = process.cpuUsage();
  if (awaited) for (let i = 0; i < OPS; i++) await decide(i);
  else for (let i = 0; i < OPS; i++) decide(i);
  const used = process.cpuUsage(before);
  return ((used.user + used.system) * 1000) / OPS;
}

const runs = Object.fromEntries(Object.keys(layers).map((name) => [name, []]));
for (let round = 0; round < 7; round++) {
  for (const [name, [decide, awaited]] of Object.entries(layers)) runs[name].push(await nanoseconds(decide, awaited));
}
const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];
console.log("| layer | CPU ns per decision |\n| --- | --- |");
for (const [name, values] of Object.entries(runs)) console.log(`| ${name} | ${median(values).toFixed(0)} |`);
