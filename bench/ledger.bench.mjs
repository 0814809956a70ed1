// The usage ledger's costs, measured side by side in one run:
//   1. decisions/s with the ledger on vs off (memory store + PGlite, Redis store + Postgres),
//      interleaved rounds, best kept;
//   2. ledger write throughput (aggregated rows/s) into PGlite and into Postgres, new rows and
//      rows updated again;
//   3. report queries (history, top, near-limit, summary) on a seeded year for 100,000 keys on
//      Postgres: p50 / p99.
// Run: npm run bench -- ledger   (or: npx tsc -b && node --expose-gc bench/ledger.bench.mjs)
import { loadavg } from "node:os";
import { createLimiter, memoryStore } from "@tollgate/core";
import { createLedger, LedgerReports, openDb } from "@tollgate/db";
import { redisStore } from "@tollgate/redis";
import { startPostgres, startRedis } from "@tollgate/testkit";
import { sql } from "kysely";
import { machine, table, writeSection } from "./section.mjs";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const KEYS = 10_000;
const SEED_KEYS = Number(process.env.BENCH_SEED_KEYS ?? 100_000);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 200);
const MONTH_COUNTER = "p|month|key|quota|month@UTC";

const limits = [
  { name: "minute", per: "user", algorithm: "fixed-window", limit: 1e12, window: "1m" },
  { name: "month", per: "user", algorithm: "quota", limit: 1e12, period: "month" },
];

/**
 * Decisions/s of `check` with `inFlight` callers over KEYS random subjects. With a ledger, the time
 * to write what the run left buffered counts too: the writes a run causes are part of its cost.
 */
async function rate(limiter, inFlight, ledger, subjects) {
  const run = async (ms) => {
    const deadline = performance.now() + ms;
    let done = 0;
    const worker = async () => {
      while (performance.now() < deadline) {
        const d = await limiter.check({ subject: { user: `u${Math.floor(Math.random() * subjects)}` } });
        if (!d.allowed || d.degraded) throw new Error("unexpected denial or degraded decision");
        done++;
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: inFlight }, worker));
    await ledger?.flush();
    return done / ((performance.now() - t0) / 1000);
  };
  await run(300);
  globalThis.gc?.();
  return run(SECONDS * 1000);
}

const loadBefore = loadavg()[0];
const pg = await startPostgres();
const redis = await startRedis();
const pglite = await openDb({ dir: "memory://" });
// Generous time limits: on a loaded shared machine a 20,000-row write or a seeding statement can
// take longer than the server's defaults.
const postgres = await openDb({ url: pg.url, poolSize: 10, timeouts: { statementMs: 600_000 } });

// 1. Decisions/s, ledger off vs on (the ledger flushing every second meanwhile).
const pglLedger = createLedger(pglite.kysely);
const pgLedger = createLedger(postgres.kysely);
const memOff = createLimiter({ store: memoryStore(), limits, breaker: false });
const memOn = createLimiter({ store: memoryStore(), limits, breaker: false, usage: pglLedger });
// The hot path alone: recording into the buffer, with no flush during the timed rows.
const idleLedger = createLedger(pglite.kysely, { flushIntervalMs: 3_600_000 });
const memRecordOnly = createLimiter({ store: memoryStore(), limits, breaker: false, usage: idleLedger });
const redisOff = createLimiter({
  store: redisStore({ url: redis.url, prefix: "off", denyCache: false }),
  limits,
  timeoutMs: 5000,
});
const redisOn = createLimiter({
  store: redisStore({ url: redis.url, prefix: "on", denyCache: false }),
  limits,
  timeoutMs: 5000,
  usage: pgLedger,
  restoreTimeoutMs: 10_000,
});
const contenders = [
  ["memory store, ledger off", memOff, 100],
  ["memory store, ledger on (PGlite, in process)", memOn, 100, pglLedger],
  ["memory store, ledger recording only (no flush while timed)", memRecordOnly, 100],
  ["Redis store, ledger off", redisOff, 256],
  ["Redis store, ledger on (Postgres)", redisOn, 256, pgLedger],
];
/**
 * First decision of every subject, 100 at a time: with the ledger on, each one rebuilds the
 * subject's monthly quota from SQL (one read, one seed), as after a restart or a flushed Redis.
 * Then every row below measures the steady state.
 */
async function warm(limiter) {
  const t0 = performance.now();
  for (let i = 0; i < KEYS; i += 100) {
    await Promise.all(Array.from({ length: 100 }, (_, j) => limiter.peek({ subject: { user: `u${i + j}` } })));
  }
  return KEYS / ((performance.now() - t0) / 1000);
}
const firstDecisions = {};
for (const [name, limiter] of contenders) firstDecisions[name] = await warm(limiter);
// Two workloads: 10,000 subjects (almost every decision touches a row no other decision of the
// flush interval touched: the ledger writes about one row per limit per decision) and 100 busy
// subjects (rows aggregate many decisions: the usual shape of API-key traffic).
const WORKLOADS = [KEYS, 100];
const best = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const subjects of WORKLOADS) {
    for (const [name, limiter, inFlight, ledger] of contenders) {
      const r = await rate(limiter, inFlight, ledger, subjects);
      const id = `${name}|${subjects}`;
      best[id] = Math.max(best[id] ?? 0, r);
      console.log(`round ${round + 1} | ${subjects} subjects | ${name} | ${Math.round(r)}/s`);
    }
  }
}
await pglLedger.close();
await pgLedger.close();
await idleLedger.close(60_000);
const costOf = (name, subjects) => {
  const off = best[`${name.startsWith("memory") ? "memory store, ledger off" : "Redis store, ledger off"}|${subjects}`];
  return `${((1 - best[`${name}|${subjects}`] / off) * 100).toFixed(1)} %`;
};
const decisionRows = WORKLOADS.flatMap((subjects) =>
  contenders.map(([name]) => [
    name,
    subjects.toLocaleString("en"),
    Math.round(best[`${name}|${subjects}`]).toLocaleString("en"),
    costOf(name, subjects),
    subjects === KEYS ? Math.round(firstDecisions[name]).toLocaleString("en") : "",
  ]),
);

if (process.env.BENCH_DECISIONS_ONLY) {
  // Iterating on the decision path: the table above, nothing written to the docs.
  console.log(
    table(["contender", "subjects", "decisions/s", "cost of the ledger", "first decisions/s (restore)"], decisionRows),
  );
  process.exit(0);
}

// 2. Write throughput: distinct aggregated rows per flush.
async function writeRate(db, rows, label) {
  const ledger = createLedger(db.kysely, { flushIntervalMs: 3_600_000, maxPending: rows * 2, maxBatch: rows });
  const limiter = createLimiter({ store: memoryStore(), limits: [limits[1]], breaker: false, usage: ledger });
  const results = [];
  for (const pass of ["new rows", "same rows again (upsert)"]) {
    for (let i = 0; i < rows; i++) limiter.checkSync({ subject: { user: `${label}-${i}` } });
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await ledger.flush();
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    // CPU of this process (the server's, in production) per 1,000 rows: PGlite's SQL runs here.
    results.push([pass, rows / seconds, (cpu.user + cpu.system) / 1000 / (rows / 1000)]);
  }
  await ledger.close();
  return results;
}
const WRITE_ROWS = Number(process.env.BENCH_WRITE_ROWS ?? 20_000);
const writeRows = [];
for (const [name, db] of [
  ["PGlite (embedded, in process)", pglite],
  ["Postgres 15 (127.0.0.1, fsync off)", postgres],
]) {
  for (const [pass, r, cpuMs] of await writeRate(db, WRITE_ROWS, name.slice(0, 2))) {
    writeRows.push([name, pass, Math.round(r).toLocaleString("en"), cpuMs.toFixed(1)]);
  }
}

// 3. Reports on a seeded year: 100,000 keys x 12 monthly periods (usage_periods) and 3 active
// hours per key per month (usage_hourly), all on the monthly quota.
const year = Date.UTC(2025, 11, 1);
const monthStart = (m) => Date.UTC(2025, 11 + m, 1);
const t0 = performance.now();
await sql`truncate usage_hourly, usage_daily, usage_monthly, usage_periods, usage_batches`.execute(postgres.kysely);
await sql`
  insert into usage_periods (counter, period_start, subject, period_end, limit_name, unit, plan, quantity)
  select ${MONTH_COUNTER}, (timestamptz '2025-12-01 00:00:00+00' + make_interval(months => m)),
         'key:k' || k, (timestamptz '2025-12-01 00:00:00+00' + make_interval(months => m + 1)),
         'month', 'requests', case when k % 10 = 0 then 'pro' else 'free' end, (random() * 1000)::int
  from generate_series(1, ${SEED_KEYS}) k, generate_series(0, 11) m`.execute(postgres.kysely);
await sql`
  insert into usage_hourly (subject, counter, bucket, category, plan, limit_name, unit, quantity)
  select 'key:k' || k, ${MONTH_COUNTER},
         timestamptz '2025-12-01 00:00:00+00' + make_interval(months => m, hours => (h * 211 + k) % 672),
         '', case when k % 10 = 0 then 'pro' else 'free' end, 'month', 'requests', (random() * 300)::int
  from generate_series(1, ${SEED_KEYS}) k, generate_series(0, 11) m, generate_series(0, 2) h
  on conflict do nothing`.execute(postgres.kysely);
// The rollups, as the writer keeps them: the hourly rows summed per UTC day and per UTC month.
await sql`
  insert into usage_daily (day, subject, limit_name, unit, category, plan, counter, quantity)
  select date_trunc('day', bucket, 'UTC'), subject, limit_name, unit, category, plan, counter, sum(quantity)
  from usage_hourly group by 1, 2, 3, 4, 5, 6, 7`.execute(postgres.kysely);
await sql`
  insert into usage_monthly (limit_name, month, subject, unit, plan, quantity)
  select limit_name, date_trunc('month', bucket, 'UTC'), subject, unit, max(plan), sum(quantity)
  from usage_hourly group by 1, 2, 3, 4`.execute(postgres.kysely);
await sql`analyze usage_hourly`.execute(postgres.kysely);
await sql`analyze usage_daily`.execute(postgres.kysely);
await sql`analyze usage_monthly`.execute(postgres.kysely);
await sql`analyze usage_periods`.execute(postgres.kysely);
const seedSeconds = (performance.now() - t0) / 1000;
const counts = await sql`select (select count(*) from usage_periods) p, (select count(*) from usage_hourly) h`.execute(
  postgres.kysely,
);
const { p: periodRows, h: hourlyRows } = counts.rows[0];
console.log(`seeded ${periodRows} period rows and ${hourlyRows} hourly rows in ${seedSeconds.toFixed(0)} s`);

const reports = new LedgerReports(postgres.kysely);
const last = monthStart(11);
const lastEnd = monthStart(12);
const randomKey = () => `key:k${1 + Math.floor(Math.random() * SEED_KEYS)}`;
const queries = [
  ["history, one key, 30 days daily", () => reports.history(randomKey(), "day", lastEnd - 30 * 86_400_000, lastEnd)],
  ["history, one key, a year daily", () => reports.history(randomKey(), "day", year, lastEnd)],
  [
    "history, one key, 48 h hourly",
    () => reports.history(randomKey(), "hour", last + 86_400_000, last + 3 * 86_400_000),
  ],
  ["top 20 of a month (one period per subject: index order)", () => reports.top("month", last, lastEnd, 20, true)],
  ["top 20 of a UTC month (monthly rollup)", () => reports.top("month", last, lastEnd, 20)],
  [
    "top 20 of a month in Europe/Paris (days + edge hours)",
    () => reports.top("month", last - 3_600_000, lastEnd - 3_600_000, 20),
  ],
  [
    "near-limit >= 0.8 (first 100)",
    () => reports.nearLimit([{ counter: MONTH_COUNTER, periodStart: last, threshold: 800 }], 100),
  ],
  ["summary by plan vs previous month (monthly rollup)", () => reports.summary(last, lastEnd, monthStart(10))],
  [
    "history, one key, 30 days daily, edges mid-day",
    () => reports.history(randomKey(), "day", lastEnd - 30 * 86_400_000 - 43_200_000, lastEnd - 43_200_000),
  ],
];
const queryStats = {};
for (const [name] of queries) queryStats[name] = [];
for (let i = 0; i < QUERIES; i++) {
  // Interleaved: every query type sees the same machine conditions.
  for (const [name, run] of queries) {
    const start = performance.now();
    await run();
    queryStats[name].push(performance.now() - start);
  }
}
const pct = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
};
const queryRows = queries.map(([name]) => [
  name,
  pct(queryStats[name], 0.5).toFixed(2),
  pct(queryStats[name], 0.99).toFixed(2),
  pct(queryStats[name], 0.99) < 100 ? "met" : "not met",
]);

const loadAfter = loadavg()[0];
const markdown = `## Usage ledger (\`npm run bench -- ledger\`)

${machine()}; Redis and Postgres 15 (fsync off) on 127.0.0.1; load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after (the machine is shared).

Decisions/s through \`createLimiter().check()\` with two limits per decision (a fixed window and a monthly quota),
100 (memory) or 256 (Redis) decisions in flight over 10,000 or 100 random subjects, ${SECONDS} s per row after a warm-up, best
of ${ROUNDS} interleaved rounds. "Ledger on" records every charge and flushes each second meanwhile (PGlite runs in the
same process and thread; Postgres in its own), and its time includes writing what the run left buffered: the writes a
run causes are part of its cost. "Recording only" is the hot path alone (no flush while timed). The last column is the
first decision of each of the ${KEYS.toLocaleString("en")} subjects, 100 at a time, before the timed rows: with the ledger on, each
rebuilds the subject's monthly quota from SQL (one read and one seed), as after a restart or a flushed Redis.

${table(["contender", "subjects", "decisions/s", "cost of the ledger", "first decisions/s (restore)"], decisionRows)}

- With 100 busy subjects, rows aggregate many decisions: the ledger costs ${costOf("memory store, ledger on (PGlite, in process)", 100)} on the memory store with
  PGlite and ${costOf("Redis store, ledger on (Postgres)", 100)} on Redis with Postgres (target under 5 %); recording alone ${costOf("memory store, ledger recording only (no flush while timed)", 100)}.
- With 10,000 subjects nearly every decision adds rows to write (an hourly row per limit, plus its day, month and
  quota period): the ledger costs ${costOf("memory store, ledger on (PGlite, in process)", KEYS)} (PGlite) and ${costOf("Redis store, ledger on (Postgres)", KEYS)} (Postgres). The database's write throughput
  (below) is then the bound; PGlite's SQL runs in the server's own thread, and on this 2-core machine Postgres
  competes with the bench for the same cores. Recording alone costs ${costOf("memory store, ledger recording only (no flush while timed)", KEYS)}.
- These limiters share one process, whose inline caches then favour whichever ran first: the decision path's own
  cost, each variant in its own process, is in the next section ("Usage ledger on the decision path").

Write throughput: ${WRITE_ROWS.toLocaleString("en")} distinct aggregated rows (subject x counter x hour) in one flush, then the same rows
again (each an upsert that adds). A batch is one SQL statement: the batch id is claimed and the hourly rows, their UTC
days, UTC months and quota periods are upserted from \`unnest\`ed arrays (32 parameters whatever the batch size).
The last column is this process's CPU per 1,000 rows: what a flush takes from the decision path's thread.

${table(["database", "pass", "aggregated rows/s", "process CPU ms / 1,000 rows"], writeRows)}

Reports on Postgres over a seeded year: ${Number(SEED_KEYS).toLocaleString("en")} keys x 12 months = ${Number(periodRows).toLocaleString("en")} period rows,
${Number(hourlyRows).toLocaleString("en")} hourly rows (3 active hours per key per month) and their daily and monthly rollups, seeded with \`generate_series\` in ${seedSeconds.toFixed(0)} s. ${QUERIES} runs
of each query, interleaved; latency in ms as the caller sees it (Kysely + pg pool). Whole UTC days and months are read
from the daily and monthly rollups (written by the same statement as the hourly rows), the hours at a range's edges
from the hourly rows; a month in another zone (Europe/Paris) is 30 whole days plus edge hours. Target: p99 under 100 ms.

${table(["query", "p50 ms", "p99 ms", "p99 < 100 ms"], queryRows)}
`;
console.log(markdown);
writeSection("ledger", markdown);

await Promise.all([memOn.store.close?.(), redisOn.store.close?.(), redisOff.store.close?.()]);
await pglite.close();
await postgres.close();
await redis.stop();
await pg.stop();
process.exit(0);
