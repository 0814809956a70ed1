// The usage ledger's cost on the decision path alone: `checkSync` on the memory store (two limits,
// 100 subjects) with no usage observer, with an observer that does nothing, and with the ledger
// recording (no flush while timed). Each variant runs in its own process: limiters built side by
// side in one process share V8's inline caches, which then makes whichever runs later look slower
// than it is. Interleaved rounds, the best of each kept.
// Run: npm run bench -- ledger-hotpath
import { spawnSync } from "node:child_process";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { createLimiter, memoryStore } from "@tollgate/core";
import { createLedger } from "@tollgate/db";
import { machine, table, writeSection } from "./section.mjs";

const N = 500_000;
const LIMITS = [
  { name: "minute", per: "user", algorithm: "fixed-window", limit: 1e12, window: "1m" },
  { name: "month", per: "user", algorithm: "quota", limit: 1e12, period: "month" },
];

if (process.argv[2] === "--variant") {
  const variant = process.argv[3];
  // No database is touched: the flush interval is longer than the run.
  const ledger = createLedger({}, { flushIntervalMs: 3_600_000, maxPending: 1e9 });
  const usage = variant === "off" ? undefined : variant === "noop" ? { record() {} } : ledger;
  const limiter = createLimiter({ store: memoryStore(), limits: LIMITS, breaker: false, ...(usage ? { usage } : {}) });
  const subjects = Array.from({ length: 100 }, (_, i) => ({ user: `u${i}` }));
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    const t0 = performance.now();
    for (let i = 0; i < N; i++) limiter.checkSync({ subject: subjects[i % 100] });
    best = Math.min(best, ((performance.now() - t0) * 1000) / N);
  }
  console.log(best);
  process.exit(0);
}

const variants = [
  ["no usage observer", "off"],
  ["an observer that does nothing", "noop"],
  ["the ledger, recording", "ledger"],
];
const best = {};
const loadBefore = loadavg()[0];
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
for (let round = 0; round < ROUNDS; round++) {
  for (const [, variant] of variants) {
    const run = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--variant", variant], {
      encoding: "utf8",
    });
    const us = Number(run.stdout.trim());
    best[variant] = Math.min(best[variant] ?? Number.POSITIVE_INFINITY, us);
    console.log(`round ${round + 1} | ${variant} | ${us.toFixed(3)} us/decision`);
  }
}
const rows = variants.map(([name, variant]) => [
  name,
  best[variant].toFixed(3),
  `+${(best[variant] - best.off).toFixed(3)}`,
  `${(((best[variant] - best.off) / best.off) * 100).toFixed(1)} %`,
]);
const markdown = `## Usage ledger on the decision path (\`npm run bench -- ledger-hotpath\`)

${machine()}; load average ${loadBefore.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after (the machine is shared).
\`checkSync\` on the memory store, two limits (a fixed window and a monthly quota), 100 subjects, ${N.toLocaleString("en")} decisions per
round, best of 5 rounds per process and of ${ROUNDS} interleaved processes per variant (each variant alone in its process).

${table(["usage observer", "us per decision", "added us", "added"], rows)}

On the in-process memory store, the cheapest decision there is, the ledger's share is the one above. A decision
through the server costs far more (section "Server": about 25,000 checks/s on the memory store, 40 us each, measured
before the ledger existed; that bench was not re-run with it): there the added time would be about 1 %.
`;
console.log(markdown);
writeSection("ledger-hotpath", markdown);
process.exit(0);
