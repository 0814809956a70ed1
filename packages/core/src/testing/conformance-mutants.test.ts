import { describe, expect, it } from "vitest";
import { systemClock } from "../clock.js";
import { parseLimit } from "../limit.js";
import { createLimiter } from "../limiter.js";
import { memoryStore } from "../memory-store.js";
import type { AdjustItem, DecideItem, DecideRequest, DecideResult, SeedItem, Store } from "../store.js";
import { type ConformanceTarget, conformanceChecks } from "./conformance.js";

/**
 * Mutation checks: the conformance suite must fail on stores (and a limiter) broken on purpose, one
 * way each. A suite that passes a broken store proves nothing about a correct one.
 */

/** The memory store with one method replaced. */
function mutant(name: string, wrap: (store: Store) => Partial<Store>): ConformanceTarget {
  return {
    name,
    runsScale: 0.3,
    create(clock) {
      const store = memoryStore({ clock });
      return { ...store, synchronous: store.synchronous, ...wrap(store) } as Store;
    },
  };
}

const MUTANTS: { mutant: ConformanceTarget; caughtBy: string[] }[] = [
  {
    // Reads the machine's clock instead of the one it was given (the app server's, in Redis terms).
    mutant: { name: "ignores its clock", create: () => memoryStore({ clock: systemClock }) },
    caughtBy: ["5. time comes from the store's clock, not the limiter's"],
  },
  {
    mutant: mutant("charges on denial", (store) => ({
      decide(request: DecideRequest) {
        const result = store.decide(request) as DecideResult;
        if (!result.charged && request.charge) {
          const items: AdjustItem[] = request.items
            .filter((item) => item.limit.algorithm !== "concurrency" && item.cost > 0)
            .map((item) => ({ ...item, delta: item.cost, chargedAt: result.now }));
          store.adjust(items);
        }
        return result;
      },
    })),
    caughtBy: ["1. all or nothing: a denial by one enforced limit charges none of the others"],
  },
  {
    mutant: mutant("refunds twice", (store) => ({
      adjust(items: readonly AdjustItem[]) {
        store.adjust(items);
        const refunds = items.filter((item) => item.delta < 0);
        if (refunds.length > 0) store.adjust(refunds);
      },
    })),
    caughtBy: [
      "4. a decision is settled or refunded at most once, whichever comes first",
      "fixed-window: random check/peek/settle/release/reset/time sequences",
    ],
  },
  {
    // Not a store bug but a limiter one: every limit quietly opts out of its missing subject.
    mutant: {
      name: "skips a missing subject",
      create: (clock) => memoryStore({ clock }),
      createLimiter: (options) =>
        createLimiter({ ...options, limits: (options.limits ?? []).map((spec) => ({ ...spec, whenMissing: "skip" })) }),
    },
    caughtBy: ["11. no silent pass: a limit whose subject is missing denies (or skips, when told) and counts nothing"],
  },
  {
    // Quota restore: the usage read from the ledger never reaches the counter.
    mutant: mutant("ignores the seed", () => ({ seed() {} })),
    caughtBy: [
      "a lost counter continues from the ledger: a key at 990 of 1000 has 10 left, not 1000",
      "a peek restores too (usage endpoints after a restart)",
    ],
  },
  {
    // Quota restore not "if absent": every racing first request adds the ledger's figure again.
    mutant: mutant("seeds on top of a live counter", (store) => ({
      seed(items: readonly SeedItem[]) {
        store.adjust(items.map((item) => ({ ...item, delta: item.count, chargedAt: item.start })));
      },
    })),
    caughtBy: [
      "64 concurrent first requests after the loss admit exactly the remaining allowance",
      "seed never overwrites a live counter, and ignores a period that has ended",
    ],
  },
  {
    // The cheap two-window estimate passed off as the exact log.
    mutant: mutant("approximates the sliding log", (store) => {
      const approximations = new Map<string, ReturnType<typeof parseLimit>>();
      const approximate = <T extends { limit: DecideItem["limit"] }>(item: T): T => {
        if (item.limit.algorithm !== "sliding-log") return item;
        let limit = approximations.get(item.limit.name);
        if (limit === undefined) {
          const { name, per, limit: amount, windowMs, unit, mode } = item.limit;
          limit = parseLimit({ name, per, algorithm: "sliding-window", limit: amount, window: windowMs, unit, mode });
          approximations.set(item.limit.name, limit);
        }
        return { ...item, limit };
      };
      return {
        decide: (request: DecideRequest) => store.decide({ ...request, items: request.items.map(approximate) }),
        adjust: (items: readonly AdjustItem[]) => store.adjust(items.map(approximate)),
      };
    }),
    caughtBy: [
      "sliding-log: random check/peek/settle/release/reset/time sequences",
      "sliding-log: exact rolling window against a brute-force count (weighted costs)",
    ],
  },
];

describe("conformance suite mutation checks: each broken store is caught", () => {
  for (const { mutant: target, caughtBy } of MUTANTS) {
    for (const name of caughtBy) {
      it(`${target.name}: caught by "${name}"`, async () => {
        const check = conformanceChecks(target).find((c) => c.name === name);
        expect(check, `no check named "${name}"`).toBeDefined();
        await expect(check?.run()).rejects.toThrow();
      });
    }
  }

  it("the same checks pass on the unbroken memory store", async () => {
    const names = new Set(MUTANTS.flatMap((m) => m.caughtBy));
    const checks = conformanceChecks({ name: "memory", runsScale: 0.3, create: (clock) => memoryStore({ clock }) });
    for (const check of checks.filter((c) => names.has(c.name))) await check.run();
  });
});
