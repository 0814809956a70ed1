import { periodBounds } from "../calendar.js";
import type { Decision } from "../decision.js";
import { withTimeout } from "../resilience.js";
import type { CounterRef, DecideResult, SeedItem, Store } from "../store.js";
import type { UsageObserver } from "../usage.js";
import { guarded, type LimiterContext } from "./context.js";
import { degrade } from "./fail-modes.js";
import type { Prepared } from "./prepare.js";
import { toDecision } from "./to-decision.js";

/*
 * Quotas outlive their store: when the store lost a quota counter (Redis flushed, a memory store
 * restarted), it is rebuilt from the usage ledger before the subject's next decision.
 */

type Seed = NonNullable<Store["seed"]>;
type UsedBetween = NonNullable<UsageObserver["usedBetween"]>;

/**
 * Reads each quota counter's usage in the current period from the ledger and seeds the store
 * with it (seed if absent: a counter another caller seeded or charged meanwhile is kept).
 */
async function seedFromLedger(context: LimiterContext, prepared: Prepared, now: number) {
  const { store, usage, restoreTimeoutMs } = context;
  const seeds: SeedItem[] = [];
  const reads: (number | Promise<number>)[] = [];
  for (const item of prepared.items) {
    const { limit } = item;
    if (limit.algorithm !== "quota") continue;
    const { start, end } = periodBounds(now, limit.period ?? "month", limit.timeZone);
    seeds.push({ counter: item.counter, id: item.id, limit, start, count: 0 });
    const read = (usage.usedBetween as UsedBetween)(item.counter, `${limit.per}:${item.id}`, start, end);
    reads.push(withTimeout(read, restoreTimeoutMs, "usage ledger read"));
  }
  const counts = await Promise.all(reads);
  for (let i = 0; i < seeds.length; i++) (seeds[i] as SeedItem).count = Math.max(0, counts[i] as number);
  await guarded(context, "seed", store.seed as Seed, seeds, seeds);
}

/**
 * The store lost a quota counter of this decision (it answered `missing` at store time `now`):
 * rebuild it from the ledger, then decide. A few rounds cover a counter that vanished again in
 * between; a ledger that cannot answer leaves the store as it is (the decision is marked
 * degraded and the quota restarts from there).
 */
export async function restoreThenDecide(context: LimiterContext, prepared: Prepared, now: number): Promise<Decision> {
  const { store, hooks } = context;
  let ledgerFailed = false;
  let storeTime = now;
  for (let round = 0; round < 3 && !ledgerFailed; round++) {
    try {
      await seedFromLedger(context, prepared, storeTime);
    } catch (error) {
      hooks.onStoreError?.(error, "restore");
      ledgerFailed = true;
      break;
    }
    let result: DecideResult;
    try {
      result = await guarded(context, "decide", store.decide, prepared, prepared.items);
    } catch (error) {
      return degrade(context, prepared, error, "decide", true);
    }
    if (result.missing !== true) return toDecision(prepared, result, "primary");
    storeTime = result.now;
  }
  const plain: Prepared = { ...prepared, restore: false };
  let result: DecideResult;
  try {
    result = await guarded(context, "decide", store.decide, plain, plain.items);
  } catch (error) {
    return degrade(context, prepared, error, "decide", true);
  }
  const decision = toDecision(prepared, result, "primary");
  if (ledgerFailed) decision.degraded = true;
  return decision;
}

/** A reset quota starts its period afresh: seeded at 0, the next decision does not rebuild it from the ledger. */
export async function seedAfterReset(context: LimiterContext, refs: readonly CounterRef[]): Promise<void> {
  const now = context.clock.now();
  const seeds = refs
    .filter((ref) => ref.limit.algorithm === "quota")
    .map((ref) => ({
      ...ref,
      start: periodBounds(now, ref.limit.period ?? "month", ref.limit.timeZone).start,
      count: 0,
    }));
  if (seeds.length > 0) await guarded(context, "seed", context.store.seed as Seed, seeds, seeds);
}
