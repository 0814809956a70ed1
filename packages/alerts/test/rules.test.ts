import { type AlertEvent, createAlerts } from "@tollgate/alerts";
import { createLimiter, type LimitSpec, manualClock, memoryStore } from "@tollgate/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { START } from "./helpers.js";

/** Alerts to a log sink whose lines are collected: the events, in order, without HTTP. */
function collecting(limits: LimitSpec[], clock = manualClock(START), store = memoryStore({ clock })) {
  const events: AlertEvent[] = [];
  const logger = {
    info() {},
    warn: (o: { alert?: AlertEvent }) => o.alert && events.push(o.alert),
    error: (o: { alert?: AlertEvent }) => o.alert && events.push(o.alert),
  };
  const alerts = createAlerts({ store, clock, logger, config: { ops: { type: "log" } } });
  const limiter = createLimiter({ store, clock, limits, hooks: alerts.hooks });
  return { clock, store, alerts, limiter, events };
}

const short = (e: AlertEvent) => [e.type, e.subject, e.count, e.ratio ?? null];

describe("near_limit", () => {
  it("happy: an enforced limit alerts at 80 % and 100 % once per window, and again next window", async () => {
    const { alerts, limiter, events, clock } = collecting([
      { name: "minute", per: "user", algorithm: "fixed-window", limit: 10, window: "1m", alert: "ops" },
    ]);
    for (let i = 0; i < 25; i++) await limiter.check({ subject: { user: "u1" } });
    await alerts.drain();
    expect(events.map(short)).toEqual([
      ["near_limit", "user:u1", 8, 0.8],
      ["near_limit", "user:u1", 10, 1],
    ]);
    expect(events.map((e) => e.severity)).toEqual(["info", "warning"]);
    clock.advance(60_000);
    for (let i = 0; i < 25; i++) await limiter.check({ subject: { user: "u1" } });
    await alerts.drain();
    expect(events).toHaveLength(4);
    expect(events[2]?.window?.start).toBe(new Date(START + 60_000).toISOString());
  });

  it("happy: a calendar quota alerts at each of its alertAt ratios once per period", async () => {
    const { alerts, limiter, events, clock } = collecting([
      {
        name: "month",
        per: "key",
        algorithm: "quota",
        limit: 20,
        period: "month",
        alert: "ops",
        alertAt: [0.5, 0.9, 1],
      },
    ]);
    clock.set(Date.UTC(2026, 2, 1, 0, 0, 0)); // day 1: too early to project
    for (let i = 0; i < 30; i++) await limiter.check({ subject: { key: "k1" } });
    await alerts.drain();
    expect(events.map(short)).toEqual([
      ["near_limit", "key:k1", 10, 0.5],
      ["near_limit", "key:k1", 18, 0.9],
      ["near_limit", "key:k1", 20, 1],
    ]);
    expect(events[0]?.window).toEqual({ start: "2026-03-01T00:00:00.000Z", end: "2026-04-01T00:00:00.000Z" });
    clock.set(Date.UTC(2026, 2, 20));
    for (let i = 0; i < 5; i++) await limiter.check({ subject: { key: "k1" } });
    clock.set(Date.UTC(2026, 3, 1, 0, 0, 1)); // next period
    for (let i = 0; i < 10; i++) await limiter.check({ subject: { key: "k1" } });
    await alerts.drain();
    expect(events.map(short).slice(3)).toEqual([["near_limit", "key:k1", 10, 0.5]]);
  });

  it("edge: a monitor raises threshold_crossed only, unless it lists ratios", async () => {
    const { alerts, limiter, events } = collecting([
      { name: "plain", per: "org", algorithm: "fixed-window", limit: 4, window: "1m", mode: "monitor", alert: "ops" },
      {
        name: "double",
        per: "org",
        algorithm: "fixed-window",
        limit: 4,
        window: "1m",
        mode: "monitor",
        alert: "ops",
        alertAt: [2],
      },
    ]);
    for (let i = 0; i < 12; i++) await limiter.check({ subject: { org: "acme" } });
    await alerts.drain();
    expect(events.map((e) => [e.limit, ...short(e)])).toEqual([
      ["plain", "threshold_crossed", "org:acme", 5, null],
      ["double", "threshold_crossed", "org:acme", 5, null],
      ["double", "near_limit", "org:acme", 8, 2],
    ]);
  });

  it("edge: a token cost jumping several ratios at once raises each of them", async () => {
    const { alerts, limiter, events } = collecting([
      {
        name: "tokens",
        per: "user",
        algorithm: "fixed-window",
        limit: 1000,
        window: "1h",
        unit: "tokens",
        alert: "ops",
      },
    ]);
    await limiter.check({ subject: { user: "u" }, cost: 1000 });
    await alerts.drain();
    expect(events.map(short)).toEqual([
      ["near_limit", "user:u", 1000, 0.8],
      ["near_limit", "user:u", 1000, 1],
    ]);
  });
});

describe("projected_to_exceed", () => {
  it("happy: usage on course to pass a monthly quota alerts once per period", async () => {
    const { alerts, limiter, events, clock } = collecting([
      { name: "month", per: "key", algorithm: "quota", limit: 1000, period: "month", alert: "ops", alertAt: [] },
    ]);
    // Day 11 of 31, 400 calls: on course for about 1,127.
    clock.set(Date.UTC(2026, 2, 11, 0, 0, 0));
    for (let i = 0; i < 400; i++) await limiter.check({ subject: { key: "k1" } });
    await alerts.drain();
    expect(events.map((e) => [e.type, e.subject])).toEqual([["projected_to_exceed", "key:k1"]]);
    const [event] = events;
    expect(event?.count).toBeLessThan(400);
    expect(event?.projected).toBeGreaterThan(1000);
    expect(event?.threshold).toBe(1000);
    clock.set(Date.UTC(2026, 2, 25));
    for (let i = 0; i < 300; i++) await limiter.check({ subject: { key: "k1" } });
    await alerts.drain();
    expect(events).toHaveLength(1);
  });

  it("edge: early in the period nothing is projected; a steady pace under the limit never alerts", async () => {
    const { alerts, limiter, events, clock } = collecting([
      { name: "month", per: "key", algorithm: "quota", limit: 1000, period: "month", alert: "ops", alertAt: [] },
    ]);
    clock.set(Date.UTC(2026, 2, 1, 12, 0, 0)); // half a day in: 1.6 % of March
    // "On course" for 12,400, but a tenth of the period has not passed: an early burst is not a trend.
    for (let i = 0; i < 200; i++) await limiter.check({ subject: { key: "k1" } });
    // 25 a day at noon: 775 by the end of March, projected at most 886 once projections start.
    for (let day = 1; day <= 31; day++) {
      clock.set(Date.UTC(2026, 2, day, 12, 0, 0));
      for (let i = 0; i < 25; i++) await limiter.check({ subject: { key: "k2" } });
    }
    await alerts.drain();
    expect(events).toEqual([]);
  });
});

describe("once per rule, subject and window", () => {
  it("happy: two processes sharing one store observing the same crossing deliver it once", async () => {
    const clock = manualClock(START);
    const store = memoryStore({ clock });
    const seen: AlertEvent[] = [];
    const logger = { info() {}, warn: (o: { alert?: AlertEvent }) => o.alert && seen.push(o.alert), error() {} };
    const instances = [1, 2].map(() => createAlerts({ store, clock, logger, config: { ops: { type: "log" } } }));
    const limiter = createLimiter({
      store,
      clock,
      limits: [
        { name: "m", per: "org", algorithm: "fixed-window", limit: 1, window: "1m", mode: "monitor", alert: "ops" },
      ],
      hooks: {
        onDecision: (decision) => {
          for (const alerts of instances) alerts.observe(decision);
        },
      },
    });
    await limiter.check({ subject: { org: "a" } });
    await limiter.check({ subject: { org: "a" } });
    for (const alerts of instances) await alerts.drain();
    expect(seen).toHaveLength(1);
  });

  it("property: threshold_crossed events = (org, window) pairs whose count went over, each once, with count = limit + 1", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 40_000 })), { maxLength: 120 }),
        async (limit, steps) => {
          const { limiter, events, clock, alerts } = collecting([
            { name: "m", per: "org", algorithm: "fixed-window", limit, window: "1m", mode: "monitor", alert: "ops" },
          ]);
          // Pure reference: counts per (org, window).
          const counts = new Map<string, number>();
          for (const [org, advance] of steps) {
            clock.advance(advance);
            const window = Math.floor(clock.now() / 60_000);
            const key = `${org}|${window}`;
            counts.set(key, (counts.get(key) ?? 0) + 1);
            await limiter.check({ subject: { org: `o${org}` } });
          }
          await alerts.drain();
          const expected = [...counts].filter(([, n]) => n > limit).map(([key]) => key);
          const actual = events.map((e) => `${e.subject.slice(5)}|${Date.parse(e.window?.start ?? "") / 60_000}`);
          expect(actual.sort()).toEqual(expected.sort());
          for (const e of events) expect(e.count).toBe(limit + 1);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("ledger_backlog", () => {
  it("happy: reported backlogs raise one event per interval, with pending and the oldest age", async () => {
    const { alerts, events, clock } = collecting([]);
    alerts.ledgerBacklog({ pending: 5000, oldestAgeMs: 120_000 });
    alerts.ledgerBacklog({ pending: 6000, oldestAgeMs: 180_000 });
    clock.advance(15 * 60_000);
    alerts.ledgerBacklog({ pending: 7000, oldestAgeMs: 240_000, everyMs: 15 * 60_000 });
    await alerts.drain();
    expect(events.map((e) => [e.type, e.subject, e.pending, e.oldestAgeSeconds, e.severity])).toEqual([
      ["ledger_backlog", "ledger", 5000, 120, "warning"],
      ["ledger_backlog", "ledger", 7000, 240, "warning"],
    ]);
  });
});

describe("validation", () => {
  it("sad: alertAt must be ratios and needs an alert route", () => {
    const fails = (extra: object) => {
      try {
        createLimiter({
          store: memoryStore(),
          limits: [{ name: "m", per: "org", algorithm: "fixed-window", limit: 1, window: "1m", ...extra } as LimitSpec],
        });
        return [];
      } catch (error) {
        return (error as { issues: { path: string; message: string }[] }).issues.map((i) => i.path);
      }
    };
    expect(fails({ alert: "ops", alertAt: [0] })).toEqual(["limits[0].alertAt"]);
    expect(fails({ alert: "ops", alertAt: "0.8" })).toEqual(["limits[0].alertAt"]);
    expect(fails({ alertAt: [0.8] })).toEqual(["limits[0].alertAt"]);
    expect(fails({ alert: "ops", alertAt: [1, 0.5, 1] })).toEqual([]);
  });
});
