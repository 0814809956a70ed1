import fc from "fast-check";
import type { CompiledLimit } from "../config.js";
import type { DecideItem, DecideResult, Outcome, Store } from "../store.js";

/** One step of a generated scenario. Indexes pick from the limits and ids under test. */
export type Operation =
  | { kind: "decide"; picks: { limit: number; id: number }[]; cost: number; charge: boolean }
  | { kind: "advance"; ms: number }
  | { kind: "adjust"; receipt: number; delta: number }
  | { kind: "release"; receipt: number }
  | { kind: "reset"; limit: number; id: number };

const DAY = 86_400_000;

/** Instants near the edges that break naive implementations: month ends, leap day, DST in New York. */
const TRICKY_STARTS = [
  Date.UTC(2024, 1, 29, 4, 59, 59, 990), // leap day, just before New York midnight
  Date.UTC(2025, 2, 9, 6, 59, 59, 500), // New York spring forward
  Date.UTC(2025, 10, 2, 5, 59, 59, 500), // New York fall back
  Date.UTC(2025, 11, 31, 23, 59, 58), // year end UTC
  Date.UTC(2026, 0, 31, 23, 59, 59, 999), // month end UTC
];

/** A start instant: random in 2024-2027, or just before a tricky edge. */
export const startTime = fc.oneof(
  fc.integer({ min: Date.UTC(2024, 0, 1), max: Date.UTC(2027, 11, 31) }),
  fc.constantFrom(...TRICKY_STARTS).chain((t) => fc.integer({ min: t - 20_000, max: t }).map((x) => x)),
);

const advance = fc.oneof(
  { weight: 3, arbitrary: fc.double({ min: 0, max: 50, noNaN: true }).map((ms) => Math.round(ms * 1000) / 1000) },
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 12_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 * DAY }) },
);

/** Scenarios of decisions, time moves, settles, releases and resets over `limitCount` x `idCount` counters. */
export function operations(limitCount: number, idCount: number, maxLength = 40): fc.Arbitrary<Operation[]> {
  const pick = fc.record({ limit: fc.nat(limitCount - 1), id: fc.nat(idCount - 1) });
  const decide = fc.record({
    kind: fc.constant("decide" as const),
    picks: fc.uniqueArray(pick, {
      minLength: 1,
      maxLength: Math.min(4, limitCount * idCount),
      selector: (p) => `${p.limit}/${p.id}`,
    }),
    cost: fc.oneof({ weight: 5, arbitrary: fc.constant(1) }, { weight: 3, arbitrary: fc.integer({ min: 0, max: 8 }) }),
    charge: fc.oneof({ weight: 6, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  });
  const op: fc.Arbitrary<Operation> = fc.oneof(
    { weight: 8, arbitrary: decide },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant("advance" as const), ms: advance }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("adjust" as const),
        receipt: fc.nat(20),
        delta: fc.integer({ min: -6, max: 6 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("release" as const), receipt: fc.nat(20) }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("reset" as const),
        limit: fc.nat(limitCount - 1),
        id: fc.nat(idCount - 1),
      }),
    },
  );
  return fc.array(op, { minLength: 1, maxLength });
}

interface Receipt {
  items: DecideItem[];
  at: number;
}

/**
 * Plays one operation on a store; returns what it answered (for decisions) so two stores can be
 * compared step by step. `receipts` and `leaseSeq` carry the scenario's history.
 */
export async function play(
  store: Store,
  operation: Operation,
  limits: readonly CompiledLimit[],
  ids: readonly string[],
  history: { receipts: Receipt[]; leaseSeq: number },
  advanceClock: (ms: number) => void,
): Promise<DecideResult | undefined> {
  switch (operation.kind) {
    case "advance":
      advanceClock(operation.ms);
      return undefined;
    case "decide": {
      const items: DecideItem[] = operation.picks.map(({ limit, id }) => {
        const { limit: spec, counter } = limits[limit] as CompiledLimit;
        const cost = spec.unit === "tokens" ? operation.cost : Math.min(operation.cost, 1);
        const item: DecideItem = { counter, id: ids[id] as string, limit: spec, cost };
        if (spec.algorithm === "concurrency" && cost > 0) item.leaseId = `lease-${history.leaseSeq++}`;
        return item;
      });
      const result = await store.decide({ items, charge: operation.charge });
      if (result.charged) history.receipts.push({ items, at: result.now });
      return result;
    }
    case "adjust": {
      const receipt = history.receipts[operation.receipt % Math.max(1, history.receipts.length)];
      if (!receipt) return undefined;
      const items = receipt.items
        .filter((item) => item.limit.algorithm !== "concurrency")
        .map((item) => ({ ...item, delta: operation.delta, chargedAt: receipt.at }));
      if (items.length > 0) await store.adjust(items);
      return undefined;
    }
    case "release": {
      const receipt = history.receipts[operation.receipt % Math.max(1, history.receipts.length)];
      const leases = (receipt?.items ?? []).flatMap((item) =>
        item.leaseId === undefined ? [] : [{ ...item, leaseId: item.leaseId }],
      );
      if (leases.length > 0) await store.release(leases);
      return undefined;
    }
    case "reset": {
      const { limit, counter } = limits[operation.limit] as CompiledLimit;
      await store.reset([{ counter, id: ids[operation.id] as string, limit }]);
      return undefined;
    }
  }
}

/** Reads every counter without charging: the observable state of the whole scenario. */
export function peekAll(store: Store, limits: readonly CompiledLimit[], ids: readonly string[]) {
  const items: DecideItem[] = [];
  for (const { limit, counter } of limits) for (const id of ids) items.push({ counter, id, limit, cost: 0 });
  return store.decide({ items, charge: false });
}

const close = (a: number, b: number) => a === b || Math.abs(a - b) <= 1e-3;

/** Differences between two answers, described for a failing assertion; empty when equivalent. */
export function differences(actual: DecideResult, expected: DecideResult, labels: string[]): string[] {
  const problems: string[] = [];
  if (actual.charged !== expected.charged) problems.push(`charged: ${actual.charged} != ${expected.charged}`);
  expected.outcomes.forEach((want: Outcome, i) => {
    const got = actual.outcomes[i];
    const label = labels[i] ?? `#${i}`;
    if (!got) {
      problems.push(`${label}: missing outcome`);
      return;
    }
    for (const field of ["fits", "exceeded", "crossed", "used", "remaining"] as const) {
      if (got[field] !== want[field]) problems.push(`${label}.${field}: ${got[field]} != ${want[field]}`);
    }
    for (const field of ["resetMs", "retryAfterMs"] as const) {
      if (!close(got[field], want[field])) problems.push(`${label}.${field}: ${got[field]} != ${want[field]}`);
    }
  });
  return problems;
}
