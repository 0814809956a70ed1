import { type CounterRef, createLimiter, type LimitSpec, memoryStore } from "@tollgate/core";
import { createLedger, type Db, LedgerReports, openDb } from "@tollgate/db";
import fc from "fast-check";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const HOUR = 3_600_000;
const DAY = 86_400_000;

/** Usage as recorded: the pure reference every report is recomputed from (hourly rows only). */
interface Use {
  ref: CounterRef;
  subject: string;
  limit: string;
  unit: string;
  category: string;
  plan: string;
  at: number;
  quantity: number;
}

const limits: LimitSpec[] = [
  { name: "month", per: "key", algorithm: "quota", limit: 1e12, period: "month", unit: "tokens" },
  { name: "minute", per: "key", algorithm: "fixed-window", limit: 1e12, window: "1m" },
];
const START = Date.UTC(2026, 0, 20);
const SPAN = 75 * DAY; // late January to early April: month and day edges inside

const hourOf = (at: number) => Math.floor(at / HOUR) * HOUR;

function latestPlan(uses: Use[]) {
  let latest: Use | undefined;
  for (const u of uses) if (latest === undefined || u.at >= latest.at) latest = u;
  return latest?.plan ?? "";
}

function referenceHistory(uses: Use[], subject: string, granularity: "hour" | "day", from: number, to: number) {
  const step = granularity === "hour" ? HOUR : DAY;
  const points = new Map<string, number>();
  for (const u of uses) {
    const bucket = hourOf(u.at);
    if (u.subject !== subject || bucket < from || bucket >= to) continue;
    const key = `${new Date(Math.floor(bucket / step) * step).toISOString()}|${u.limit}|${u.category}`;
    points.set(key, (points.get(key) ?? 0) + u.quantity);
  }
  return [...points]
    .map(([key, used]) => {
      const [start, limit, category] = key.split("|") as [string, string, string];
      return { start, limit, category, used };
    })
    .sort((a, b) =>
      a.start !== b.start
        ? a.start < b.start
          ? -1
          : 1
        : a.limit !== b.limit
          ? a.limit < b.limit
            ? -1
            : 1
          : a.category < b.category
            ? -1
            : a.category > b.category
              ? 1
              : 0,
    );
}

/** Per subject, limit and unit: usage whose hour falls in [from, to), and the plan of the latest. */
function perSubject(uses: Use[], from: number, to: number) {
  const groups = new Map<string, Use[]>();
  for (const u of uses) {
    const bucket = hourOf(u.at);
    if (bucket < from || bucket >= to) continue;
    const key = `${u.subject}|${u.limit}|${u.unit}`;
    groups.set(key, [...(groups.get(key) ?? []), u]);
  }
  return [...groups.values()].map((group) => ({
    subject: (group[0] as Use).subject,
    limit: (group[0] as Use).limit,
    unit: (group[0] as Use).unit,
    plan: latestPlan(group),
    used: group.reduce((sum, u) => sum + u.quantity, 0),
  }));
}

function referenceTop(uses: Use[], limit: string, from: number, to: number, n: number) {
  return perSubject(uses, from, to)
    .filter((s) => s.limit === limit)
    .sort((a, b) => b.used - a.used || (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0))
    .slice(0, n)
    .map(({ subject, limit: name, unit, plan, used }) => ({ subject, limit: name, unit, plan, used }));
}

function referenceTotals(uses: Use[], from: number, to: number) {
  const totals = new Map<string, { used: number; subjects: number }>();
  for (const s of perSubject(uses, from, to)) {
    const key = `${s.plan}|${s.limit}|${s.unit}`;
    const t = totals.get(key) ?? { used: 0, subjects: 0 };
    totals.set(key, { used: t.used + s.used, subjects: t.subjects + 1 });
  }
  return totals;
}

describe("report rollups equal a recount of the hourly usage (property-based, PGlite)", () => {
  let db: Db;
  beforeAll(async () => {
    db = await openDb({ dir: "memory://" });
  });
  afterAll(() => db?.close());

  it("history, top and summary over random ranges: months and days from rollups, edges from hours", async () => {
    const config = createLimiter({ store: memoryStore(), limits }).config;
    const compiled = config.global;
    // A range: anywhere from the start of the data to its end, sometimes on exact UTC months/days.
    const instant = fc.oneof(
      fc.integer({ min: START - 5 * DAY, max: START + SPAN + 5 * DAY }),
      fc.constantFrom(Date.UTC(2026, 1, 1), Date.UTC(2026, 2, 1), Date.UTC(2026, 3, 1), Date.UTC(2026, 0, 1)),
      fc.integer({ min: 0, max: 90 }).map((d) => Date.UTC(2026, 0, 15) + d * DAY),
    );
    const range = fc
      .tuple(instant, instant)
      .filter(([a, b]) => a !== b)
      .map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as const);
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            key: fc.constantFrom("a", "b", "c", "d"),
            limit: fc.integer({ min: 0, max: 1 }),
            category: fc.constantFrom("", "chat", "embed"),
            advance: fc.integer({ min: 0, max: 3 * DAY }),
            quantity: fc.integer({ min: -5, max: 50 }).filter((q) => q !== 0),
            flush: fc.boolean(),
          }),
          { minLength: 1, maxLength: 50 },
        ),
        fc.array(range, { minLength: 3, maxLength: 3 }),
        async (steps, ranges) => {
          await sql`truncate usage_hourly, usage_daily, usage_monthly, usage_periods, usage_batches`.execute(db.kysely);
          const ledger = createLedger(db.kysely, { flushIntervalMs: 3_600_000 });
          const uses: Use[] = [];
          let at = START;
          for (const step of steps) {
            at += step.advance;
            const { limit, counter } = compiled[step.limit] as (typeof compiled)[number];
            // The plan changes with the day (a mid-month upgrade), never within an hour.
            const plan = (Math.floor(at / DAY) + step.key.charCodeAt(0)) % 3 === 0 ? "pro" : "free";
            const ref: CounterRef = { counter, id: step.key, limit };
            ledger.record(ref, step.quantity, at, plan, step.category || undefined);
            uses.push({
              ref,
              subject: `key:${step.key}`,
              limit: limit.name,
              unit: limit.unit,
              category: step.category,
              plan,
              at,
              quantity: step.quantity,
            });
            if (step.flush) await ledger.flush(); // rows upserted again by later batches
          }
          await ledger.close();
          const reports = new LedgerReports(db.kysely);
          for (const [from, to] of ranges) {
            expect(await reports.history("key:a", "day", from, to)).toEqual(
              referenceHistory(uses, "key:a", "day", from, to),
            );
            if (to - from <= 40 * DAY) {
              expect(await reports.history("key:b", "hour", from, to)).toEqual(
                referenceHistory(uses, "key:b", "hour", from, to),
              );
            }
            for (const name of ["month", "minute"]) {
              expect(await reports.top(name, from, to, 3)).toEqual(referenceTop(uses, name, from, to, 3));
            }
            const previousFrom = from - (to - from);
            const summary = await reports.summary(from, to, previousFrom);
            const current = referenceTotals(uses, from, to);
            const previous = referenceTotals(uses, previousFrom, from);
            const got = new Map(summary.map((e) => [`${e.plan}|${e.limit}|${e.unit}`, e]));
            expect(new Set(got.keys())).toEqual(new Set([...current.keys(), ...previous.keys()]));
            for (const [key, entry] of got) {
              expect([entry.used, entry.subjects], key).toEqual([
                current.get(key)?.used ?? 0,
                current.get(key)?.subjects ?? 0,
              ]);
              expect([entry.previousUsed, entry.previousSubjects], key).toEqual([
                previous.get(key)?.used ?? 0,
                previous.get(key)?.subjects ?? 0,
              ]);
            }
          }
          // Whole UTC months: the monthly rollup's index order alone.
          const march = Date.UTC(2026, 2, 1);
          const april = Date.UTC(2026, 3, 1);
          expect(await reports.top("month", march, april, 3)).toEqual(referenceTop(uses, "month", march, april, 3));
        },
      ),
      { numRuns: 25 },
    );
  }, 300_000);
});
