import { expect } from "vitest";
import { manualClock } from "../clock.js";
import type { CompiledLimit } from "../config.js";
import type { LimitSpec } from "../limit.js";
import type { Limiter } from "../limiter.js";
import type { UsageObserver } from "../usage.js";
import { type ConformanceTarget, limiterOn, withStore } from "./target.js";

/** Adds the restore section (quotas rebuilt from the usage ledger through `seed`) through `restore`. */
export function restoreChecks(
  target: ConformanceTarget,
  restore: (name: string, run: () => Promise<void>) => void,
): void {
  // 13. Quotas rebuilt from the usage ledger. A store without `seed` cannot rebuild them (its
  // quotas restart with it): these checks do not apply to it.
  const start = Date.UTC(2026, 10, 14, 9, 30, 0);
  const month: LimitSpec = { name: "month", per: "key", algorithm: "quota", limit: 1000, period: "month" };

  restore("a lost counter continues from the ledger: a key at 990 of 1000 has 10 left, not 1000", async () => {
    const clock = manualClock(start);
    const ledger = fixedLedger(990);
    await withStore(target, clock, async (store) => {
      if (!store.seed) return;
      const limiter = limiterOn(target, store, clock, [month], { usage: ledger });
      const first = await limiter.check({ subject: { key: "k1" } });
      expect(first.allowed).toBe(true);
      expect(first.limits[0]?.used).toBe(991);
      let admitted = 1;
      for (let i = 0; i < 15; i++) if ((await limiter.check({ subject: { key: "k1" } })).allowed) admitted++;
      expect(admitted).toBe(10);
      // Read once: the seeded counter answers from then on.
      expect(ledger.reads).toBe(1);
      expect(ledger.recorded).toBe(10);
    });
  });

  restore("64 concurrent first requests after the loss admit exactly the remaining allowance", async () => {
    const clock = manualClock(start);
    await withStore(target, clock, async (store) => {
      if (!store.seed) return;
      // Two limiters on one store: two app instances racing the first request.
      const limiters = [0, 1].map(() => limiterOn(target, store, clock, [month], { usage: fixedLedger(990) }));
      const results = await Promise.all(
        Array.from({ length: 64 }, (_, i) => (limiters[i % 2] as Limiter).check({ subject: { key: "hot" } })),
      );
      expect(results.filter((d) => d.allowed).length).toBe(10);
      const peek = await (limiters[0] as Limiter).peek({ subject: { key: "hot" } });
      expect(peek.limits[0]?.used).toBe(1000);
    });
  });

  restore("a peek restores too (usage endpoints after a restart)", async () => {
    const clock = manualClock(start);
    await withStore(target, clock, async (store) => {
      if (!store.seed) return;
      const limiter = limiterOn(target, store, clock, [month], { usage: fixedLedger(10) });
      const peek = await limiter.peek({ subject: { key: "k2" } });
      expect(peek.limits[0]?.used).toBe(10);
      expect(peek.limits[0]?.remaining).toBe(990);
    });
  });

  restore("seed never overwrites a live counter, and ignores a period that has ended", async () => {
    const clock = manualClock(start);
    await withStore(target, clock, async (store) => {
      if (!store.seed) return;
      const limiter = limiterOn(target, store, clock, [month]);
      const [{ limit, counter }] = limiter.config.global as [CompiledLimit];
      await limiter.check({ subject: { key: "live" }, cost: 1 });
      const periodStart = Date.UTC(2026, 10, 1);
      await store.seed([{ counter, id: "live", limit, start: periodStart, count: 500 }]);
      expect((await limiter.peek({ subject: { key: "live" } })).limits[0]?.used).toBe(1);
      await store.seed([{ counter, id: "stale", limit, start: Date.UTC(2026, 9, 1), count: 500 }]);
      expect((await limiter.peek({ subject: { key: "stale" } })).limits[0]?.used).toBe(0);
      await store.seed([{ counter, id: "fresh", limit, start: periodStart, count: 500 }]);
      expect((await limiter.peek({ subject: { key: "fresh" } })).limits[0]?.used).toBe(500);
    });
  });

  restore("a new period starts from the ledger's figure for that period, not the last one's", async () => {
    const clock = manualClock(Date.UTC(2026, 10, 30, 23, 59, 59, 500));
    const ledger = fixedLedger(0);
    await withStore(target, clock, async (store) => {
      if (!store.seed) return;
      const limiter = limiterOn(target, store, clock, [{ ...month, limit: 3 }], { usage: ledger });
      for (let i = 0; i < 3; i++) await limiter.check({ subject: { key: "edge" } });
      expect((await limiter.check({ subject: { key: "edge" } })).allowed).toBe(false);
      clock.advance(1000); // December 1st
      expect((await limiter.check({ subject: { key: "edge" } })).allowed).toBe(true);
      expect(ledger.periods).toEqual([Date.UTC(2026, 10, 1), Date.UTC(2026, 11, 1)]);
    });
  });

  restore("a reset quota starts afresh instead of being rebuilt from the ledger", async () => {
    const clock = manualClock(start);
    await withStore(target, clock, async (store) => {
      if (!store.seed) return;
      const limiter = limiterOn(target, store, clock, [month], { usage: fixedLedger(990) });
      expect((await limiter.check({ subject: { key: "r" } })).limits[0]?.used).toBe(991);
      await limiter.reset({ key: "r" });
      expect((await limiter.peek({ subject: { key: "r" } })).limits[0]?.used).toBe(0);
    });
  });

  restore("a ledger that cannot answer degrades the decision and the quota goes on from the store", async () => {
    const clock = manualClock(start);
    await withStore(target, clock, async (store) => {
      if (!store.seed) return;
      const failing: UsageObserver = {
        record() {},
        usedBetween: () => Promise.reject(new Error("database down")),
      };
      const limiter = limiterOn(target, store, clock, [month], { usage: failing });
      const decision = await limiter.check({ subject: { key: "k3" } });
      expect(decision.allowed).toBe(true);
      expect(decision.degraded).toBe(true);
      expect(decision.limits[0]?.used).toBe(1);
    });
  });
}

/** An in-process stand-in for the ledger: every counter has `used` units in any period. */
function fixedLedger(used: number) {
  const ledger = {
    reads: 0,
    recorded: 0,
    periods: [] as number[],
    record(_ref: unknown, quantity: number) {
      ledger.recorded += quantity;
    },
    async usedBetween(_counter: string, _subject: string, from: number) {
      ledger.reads++;
      if (!ledger.periods.includes(from)) ledger.periods.push(from);
      return from === ledger.periods[0] ? used : 0;
    },
  };
  return ledger;
}
