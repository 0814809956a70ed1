import { createLimiter, type LimitSpec, manualClock, memoryStore } from "@tollgate/core";
import { createLedger, type Db, LedgerReports, openDb } from "@tollgate/db";
import { missing, type PostgresServer, pgCtlBinary, startPostgres } from "@tollgate/testkit";
import fc from "fast-check";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const HOUR = 3_600_000;
const DAY = 86_400_000;

const monthly: LimitSpec = { name: "month", per: "key", algorithm: "quota", limit: 1000, period: "month" };
const hourly: LimitSpec = { name: "hour", per: "key", algorithm: "fixed-window", limit: 100_000, window: "1h" };

async function total(db: Db, table: "usage_hourly" | "usage_periods" = "usage_hourly") {
  const row = await db.kysely
    .selectFrom(table)
    .select((eb) => eb.fn.sum<string>("quantity").as("q"))
    .executeTakeFirst();
  return Number(row?.q ?? 0);
}

/** A limiter on a memory store feeding a ledger: a process of the embedded default. */
function processOn(db: Db, clock: ReturnType<typeof manualClock>, limits: LimitSpec[] | { plans: never }) {
  const ledger = createLedger(db.kysely, { flushIntervalMs: 60_000 });
  const config = Array.isArray(limits) ? { limits } : limits;
  const limiter = createLimiter({ store: memoryStore({ clock }), clock, breaker: false, usage: ledger, ...config });
  return { ledger, limiter };
}

describe("usage ledger on PGlite (embedded default)", () => {
  let db: Db;
  beforeAll(async () => {
    db = await openDb({ dir: "memory://" });
  });
  afterAll(() => db?.close());

  it("migrates the ledger tables", () => {
    expect(db.applied).toEqual([
      "0001_catalog",
      "0002_ledger",
      "0003_alert_deliveries",
      "0004_idempotency_keys",
      "0005_alert_outages",
      "0006_ledger_rollups",
    ]);
  });

  it("a restart continues month usage: 10 calls, new process, 990 left (the newcomer scenario)", async () => {
    const clock = manualClock(Date.UTC(2026, 10, 14, 12));
    const first = processOn(db, clock, [monthly]);
    for (let i = 0; i < 10; i++)
      expect((await first.limiter.check({ subject: { key: "newcomer" } })).allowed).toBe(true);
    await first.ledger.close(); // clean shutdown flushes
    const second = processOn(db, clock, [monthly]);
    const usage = await second.limiter.peek({ subject: { key: "newcomer" } });
    expect(usage.limits[0]?.used).toBe(10);
    const next = await second.limiter.check({ subject: { key: "newcomer" } });
    expect(next.limits[0]?.used).toBe(11);
    await second.ledger.close();
  });

  it("settles and refunds reach the ledger; a plan change mid-period keeps the usage", async () => {
    const clock = manualClock(Date.UTC(2026, 10, 20, 8));
    const plans = {
      free: { limits: [{ ...monthly, limit: 100, unit: "tokens" as const }] },
      pro: { limits: [{ ...monthly, limit: 10_000, unit: "tokens" as const }] },
    };
    const ledger = createLedger(db.kysely, { flushIntervalMs: 60_000 });
    const limiter = createLimiter({ store: memoryStore({ clock }), clock, breaker: false, usage: ledger, plans });
    const subject = { key: "mover" };
    const reserved = await limiter.check({ subject, plan: "free", cost: 50 });
    await limiter.settle(reserved, 20); // -30
    const failed = await limiter.check({ subject, plan: "free", cost: 10 });
    await limiter.refund(failed); // -10
    await limiter.check({ subject, plan: "pro", cost: 500 }); // upgraded mid-month
    await ledger.close();
    const restarted = processOn(db, clock, { plans } as never);
    const after = await restarted.limiter.peek({ subject, plan: "pro" });
    expect(after.limits[0]?.used).toBe(520);
    await restarted.ledger.close();
    const reports = new LedgerReports(db.kysely);
    const rows = (await reports.export(Date.UTC(2026, 10, 20), Date.UTC(2026, 10, 21))).filter(
      (r) => r.subject === "key:mover",
    );
    expect(rows.map((r) => [r.plan, r.quantity])).toEqual([
      ["free", 20],
      ["pro", 500],
    ]);
  });

  it("usage lands in the right period: month boundary in New York, leap day, DST day in Paris", async () => {
    const local = await openDb({ dir: "memory://" });
    try {
      const limits: LimitSpec[] = [
        { ...monthly, name: "ny-month", timeZone: "America/New_York" },
        { ...monthly, name: "paris-day", period: "day", timeZone: "Europe/Paris" },
        { ...monthly, name: "utc-day", period: "day" },
      ];
      // Local midnight Dec 1 in New York is 05:00 UTC; Paris springs forward on 2026-03-29.
      const instants = [
        Date.UTC(2026, 11, 1, 4, 59, 59, 999), // still November in New York
        Date.UTC(2026, 11, 1, 5, 0, 0, 0), // December 1st, 00:00 in New York
        Date.UTC(2028, 1, 29, 23, 30), // leap day, UTC
        Date.UTC(2028, 2, 1, 0, 30), // March 1st, UTC
        Date.UTC(2026, 2, 29, 21, 59), // 23:59 in Paris on the 23-hour day
        Date.UTC(2026, 2, 29, 22, 0), // midnight: March 30 in Paris
      ];
      const clock = manualClock(instants[0] as number);
      const ledger = createLedger(local.kysely, { flushIntervalMs: 60_000 });
      const limiter = createLimiter({ store: memoryStore({ clock }), clock, limits, usage: ledger });
      for (const at of instants) {
        clock.set(at);
        await limiter.check({ subject: { key: "tz" } });
      }
      await ledger.close();
      const restored = createLedger(local.kysely, { flushIntervalMs: 60_000 });
      const periodUse = async (name: string, at: number) => {
        clock.set(at);
        const fresh = createLimiter({ store: memoryStore({ clock }), clock, limits, usage: restored });
        return (await fresh.peek({ subject: { key: "tz" } })).limits.find((l) => l.name === name)?.used;
      };
      expect(await periodUse("ny-month", Date.UTC(2026, 11, 1, 4))).toBe(1); // November (New York)
      expect(await periodUse("ny-month", Date.UTC(2026, 11, 1, 6))).toBe(1); // December (New York)
      expect(await periodUse("utc-day", Date.UTC(2028, 1, 29, 12))).toBe(1); // Feb 29 2028
      expect(await periodUse("utc-day", Date.UTC(2028, 2, 1, 12))).toBe(1); // Mar 1 2028
      expect(await periodUse("paris-day", Date.UTC(2026, 2, 29, 12))).toBe(1); // the 23-hour day
      expect(await periodUse("paris-day", Date.UTC(2026, 2, 30, 12))).toBe(1); // the day after
      await restored.close();
    } finally {
      await local.close();
    }
  }, 120_000); // its own PGlite: slow on a busy 2-core machine

  it("reports equal a brute-force recount of the decisions made; an export ingested twice bills the same", async () => {
    const local = await openDb({ dir: "memory://" });
    try {
      const start = Date.UTC(2026, 9, 30, 20);
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              key: fc.constantFrom("a", "b", "c"),
              plan: fc.constantFrom("free", "pro"),
              category: fc.constantFrom("chat", "embed"),
              cost: fc.integer({ min: 1, max: 40 }),
              advance: fc.integer({ min: 0, max: 9 * HOUR }),
            }),
            { minLength: 1, maxLength: 60 },
          ),
          async (requests) => {
            await sql`truncate usage_hourly, usage_daily, usage_monthly, usage_periods, usage_batches`.execute(
              local.kysely,
            );
            const clock = manualClock(start);
            const ledger = createLedger(local.kysely, { flushIntervalMs: 60_000 });
            const limits = [
              { ...monthly, limit: 1_000_000, unit: "tokens" as const },
              { ...hourly, name: "calls" },
            ];
            const limiter = createLimiter({
              store: memoryStore({ clock }),
              clock,
              usage: ledger,
              plans: { free: { limits }, pro: { limits } },
              categories: { chat: {}, embed: {} },
            });
            const made: { subject: string; plan: string; category: string; limit: string; at: number; q: number }[] =
              [];
            for (const r of requests) {
              clock.advance(r.advance);
              const d = await limiter.check({
                subject: { key: r.key },
                plan: r.plan,
                category: r.category,
                cost: r.cost,
              });
              if (!d.allowed) continue;
              const base = { subject: `key:${r.key}`, plan: r.plan, category: r.category, at: clock.now() };
              made.push({ ...base, limit: "month", q: r.cost }, { ...base, limit: "calls", q: 1 });
              if (made.length % 7 === 0) await ledger.flush(); // several batches, rows upserted again
            }
            await ledger.close();
            const reports = new LedgerReports(local.kysely);
            // Whole UTC days around the decisions (exports are per UTC day).
            const from = Math.floor(start / DAY) * DAY - DAY;
            const to = Math.ceil(clock.now() / DAY) * DAY + DAY;
            // history (daily) for one subject
            const history = await reports.history("key:a", "day", from, to);
            const want = new Map<string, number>();
            for (const m of made.filter((x) => x.subject === "key:a")) {
              const day = new Date(Math.floor(m.at / DAY) * DAY).toISOString();
              const k = `${day}|${m.limit}|${m.category}`;
              want.set(k, (want.get(k) ?? 0) + m.q);
            }
            expect(new Map(history.map((p) => [`${p.start}|${p.limit}|${p.category}`, p.used]))).toEqual(want);
            // top by the month quota over every month touched
            const top = await reports.top("month", Date.UTC(2026, 9, 1), to, 10);
            const byKey = new Map<string, number>();
            for (const m of made.filter((x) => x.limit === "month"))
              byKey.set(m.subject, (byKey.get(m.subject) ?? 0) + m.q);
            expect(new Map(top.map((t) => [t.subject, t.used]))).toEqual(byKey);
            expect(top.map((t) => t.used)).toEqual([...top.map((t) => t.used)].sort((x, y) => y - x));
            // export ingested twice by an idempotent consumer: totals match, ids stable
            const first = await reports.export(from, to);
            const second = await reports.export(from, to);
            const billed = new Map<string, number>();
            for (const row of [...first, ...second]) billed.set(row.id, row.quantity);
            const billedTotal = [...billed.values()].reduce((a, b) => a + b, 0);
            expect(billedTotal).toBe(made.reduce((a, m) => a + m.q, 0));
          },
        ),
        { numRuns: 15 },
      );
    } finally {
      await local.close();
    }
  }, 180_000); // 15 scenarios on PGlite: slow on a busy 2-core machine
});

describe("ledger retention (PGlite, injected clock)", () => {
  it("hourly rows go after hourlyRetentionDays, rollups after retentionDays; a sweep runs once an interval", async () => {
    const local = await openDb({ dir: "memory://" });
    try {
      const clock = manualClock(Date.UTC(2026, 0, 10, 12));
      const ledger = createLedger(local.kysely, {
        flushIntervalMs: 60_000,
        hourlyRetentionDays: 2,
        retentionDays: 40,
        now: () => clock.now(),
      });
      const limiter = createLimiter({ store: memoryStore({ clock }), clock, limits: [monthly], usage: ledger });
      const rows = async () => {
        const counts: Record<string, number> = {};
        for (const table of ["usage_hourly", "usage_daily", "usage_monthly", "usage_periods"] as const) {
          const row = await local.kysely
            .selectFrom(table)
            .select((eb) => eb.fn.countAll<string>().as("n"))
            .executeTakeFirst();
          counts[table] = Number(row?.n);
        }
        return counts;
      };
      const reports = new LedgerReports(local.kysely);
      await limiter.check({ subject: { key: "kept" } }); // January 10th
      await ledger.flush();
      expect(await ledger.sweep()).toBe(false); // the first sweep is one interval after start
      clock.advance(3 * DAY); // January 13th: the 10th's hourly row is past 2 days
      await limiter.check({ subject: { key: "kept" } });
      await ledger.flush();
      expect(await ledger.sweep()).toBe(true);
      expect(await rows()).toEqual({ usage_hourly: 1, usage_daily: 2, usage_monthly: 1, usage_periods: 1 });
      // Whole days still come from the daily rollup; the hours of the 10th are gone.
      const jan = Date.UTC(2026, 0, 1);
      expect((await reports.history("key:kept", "day", jan, jan + 31 * DAY)).map((p) => p.used)).toEqual([1, 1]);
      expect(await reports.history("key:kept", "hour", jan + 9 * DAY, jan + 11 * DAY)).toEqual([]);
      expect(await reports.top("month", jan, Date.UTC(2026, 1, 1), 5)).toMatchObject([
        { subject: "key:kept", used: 2 },
      ]);
      expect(await ledger.sweep()).toBe(false); // swept less than an hour ago (by the injected clock)
      clock.advance(HOUR);
      expect(await ledger.sweep()).toBe(true);
      // March 14th: 40 days back is February 2nd; January's days, month and period are all past it.
      clock.set(Date.UTC(2026, 2, 14));
      expect(await ledger.sweep()).toBe(true);
      expect(await rows()).toEqual({ usage_hourly: 0, usage_daily: 0, usage_monthly: 0, usage_periods: 0 });
      await ledger.close();
    } finally {
      await local.close();
    }
  }, 120_000); // its own PGlite: slow on a busy 2-core machine
});

describe.skipIf(missing(pgCtlBinary, "PostgreSQL 15 (pg_ctl, initdb)"))("usage ledger on Postgres", () => {
  let pg: PostgresServer;
  let db: Db;
  beforeAll(async () => {
    pg = await startPostgres();
    db = await openDb({ url: pg.url });
  });
  afterAll(async () => {
    await db?.close();
    await pg?.stop();
  });

  it("a batch retried after a timeout whose first attempt committed is counted once", async () => {
    const local = db;
    await sql`truncate usage_hourly, usage_daily, usage_monthly, usage_periods, usage_batches`.execute(local.kysely);
    {
      // The first attempt commits 300 ms late; the writer gives up on it after 50 ms and retries.
      await sql`create or replace function slow_batch() returns trigger as $$ begin perform pg_sleep(0.3); return new; end $$ language plpgsql`.execute(
        local.kysely,
      );
      await sql`create trigger slow before insert on usage_batches for each row execute function slow_batch()`.execute(
        local.kysely,
      );
      const errors: unknown[] = [];
      const ledger = createLedger(local.kysely, {
        flushIntervalMs: 60_000,
        writeTimeoutMs: 50,
        onError: (e) => errors.push(e),
      });
      const clock = manualClock(Date.UTC(2026, 10, 3));
      const limiter = createLimiter({ store: memoryStore({ clock }), clock, limits: [monthly], usage: ledger });
      for (let i = 0; i < 7; i++) await limiter.check({ subject: { key: "r" } });
      await expect(ledger.flush()).rejects.toThrow(/within 50 ms/);
      expect(ledger.stats().degraded).toBe(true);
      await sql`drop trigger slow on usage_batches`.execute(local.kysely);
      await ledger.flush(); // same batch id again: found, skipped
      expect(await total(local)).toBe(7);
      expect(await total(local, "usage_periods")).toBe(7);
      expect(ledger.stats()).toMatchObject({ degraded: false, pending: 0, batches: 1 });
      expect(errors).toHaveLength(1);
      await ledger.close();
    }
  });

  it("Postgres down: decisions go on, the buffer aggregates and reports degraded, then drains exactly", async () => {
    await sql`truncate usage_hourly, usage_daily, usage_monthly, usage_periods, usage_batches`.execute(db.kysely);
    const clock = manualClock(Date.UTC(2026, 10, 10, 10));
    let recovered = 0;
    const ledger = createLedger(db.kysely, {
      flushIntervalMs: 100,
      writeTimeoutMs: 2000,
      onRecover: () => recovered++,
    });
    const limiter = createLimiter({
      store: memoryStore({ clock }),
      clock,
      limits: [{ ...monthly, limit: 1_000_000 }],
      usage: ledger,
    });
    let allowed = 0;
    const load = async (n: number) => {
      for (let i = 0; i < n; i++) {
        clock.advance(60_000);
        if ((await limiter.check({ subject: { key: `k${i % 50}` } })).allowed) allowed++;
      }
    };
    await load(500);
    await ledger.flush();
    await pg.halt();
    await load(2000); // hot path never waits for SQL
    await new Promise((resolve) => setTimeout(resolve, 500)); // a few failing ticks
    const during = ledger.stats();
    expect(during.degraded).toBe(true);
    expect(during.pendingQuantity).toBe(2000);
    expect(during.failures).toBeGreaterThan(0);
    await pg.start();
    await ledger.close(30_000);
    expect(recovered).toBe(1);
    expect(allowed).toBe(2500);
    expect(await total(db)).toBe(2500);
    expect(await total(db, "usage_periods")).toBe(2500);
  });

  it("the buffer is bounded: past maxPending, new rows are dropped and counted, old rows keep aggregating", async () => {
    const ledger = createLedger(db.kysely, { flushIntervalMs: 60_000, maxPending: 3 });
    const clock = manualClock(Date.UTC(2026, 10, 11));
    const limiter = createLimiter({ store: memoryStore({ clock }), clock, limits: [monthly], usage: ledger });
    for (const key of ["a", "b", "c", "d", "e", "a", "a"]) await limiter.check({ subject: { key: `bound-${key}` } });
    expect(ledger.stats()).toMatchObject({
      pending: 3,
      pendingQuantity: 5,
      droppedRows: 2,
      droppedQuantity: 2,
      degraded: true,
    });
    await ledger.close();
    expect(ledger.stats().degraded).toBe(false);
  });
});
