import type { ChargeReceipt, Decision } from "../decision.js";
import { TollgateError } from "../errors.js";
import type { AdjustItem, CounterRef, DecideItem, DecideResult, ReleaseItem } from "../store.js";
import { guarded, guardedAdjust, type LimiterContext } from "./context.js";
import { validateCost } from "./input.js";
import type { AdjustOutcome } from "./types.js";

/*
 * What happens to a charge after its decision: it becomes usage in the ledger, then it may be
 * settled to the actual cost, refunded, or its leases released; a charge the caller never heard
 * about (a late store answer) is compensated.
 */

const APPLIED: AdjustOutcome = Object.freeze({ applied: true });

/** Settled or refunded already: a decision's charge is adjusted at most once. */
const ALREADY_ADJUSTED = "this decision was already settled or refunded";

/** Counters that count usage (leases are not usage). */
const isUsage = (item: DecideItem) => item.cost > 0 && item.limit.algorithm !== "concurrency";

/** The adjustments that give back every unit `items` charged at store time `at`. */
function refundsOf(items: readonly DecideItem[], at: number): AdjustItem[] {
  return items
    .filter(isUsage)
    .map((item) => ({ counter: item.counter, id: item.id, limit: item.limit, delta: -item.cost, chargedAt: at }));
}

/** The leases `items` took. */
function leasesOf(items: readonly DecideItem[]): ReleaseItem[] {
  const leases: ReleaseItem[] = [];
  for (const item of items) {
    if (item.leaseId !== undefined) {
      leases.push({ counter: item.counter, id: item.id, limit: item.limit, leaseId: item.leaseId });
    }
  }
  return leases;
}

/** Every counter a decision charged becomes usage in the ledger. */
export function recordCharge(context: LimiterContext, decision: Decision): void {
  const { receipt } = decision;
  if (!context.recording || receipt === undefined) return;
  const { items, at } = receipt;
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as DecideItem;
    if (isUsage(item)) context.usage.record(item, item.cost, at, decision.plan, decision.category);
  }
}

/**
 * A decide call the limiter gave up on (timeout) answered later. If it charged, the caller was
 * told otherwise (degraded, or denied): take the charge back so the counters hold only what
 * callers were told they got.
 */
export function compensate(context: LimiterContext, items: readonly DecideItem[], result: DecideResult): void {
  if (!result.charged) return;
  const { store, hooks } = context;
  const refunds = refundsOf(items, result.now);
  const leases = leasesOf(items);
  const attempt = async () => {
    if (refunds.length > 0) await store.adjust(refunds);
    if (leases.length > 0) await store.release(leases);
  };
  // The store just answered, so it is usually up; one retry covers a blip.
  attempt()
    .catch(() => new Promise((resolve) => setTimeout(resolve, 1_000)).then(attempt))
    .then(
      () => hooks.onCompensation?.({ applied: true, counters: items.length }),
      (error: unknown) => {
        hooks.onStoreError?.(error, "compensate");
        hooks.onCompensation?.({ applied: false, counters: items.length });
      },
    );
}

/**
 * Settle, refund and release for one limiter. One lifecycle per charge: settle or refund,
 * whichever comes first, at most once; the ledger hears of it once even when the store call is
 * retried.
 */
export class ChargeLifecycle {
  /** Receipts settled or refunded (claimed synchronously, so two concurrent calls cannot both apply). */
  readonly #adjusted = new WeakSet<ChargeReceipt>();
  /** Receipts whose settle or refund reached the ledger already. */
  readonly #recorded = new WeakSet<ChargeReceipt>();

  constructor(readonly context: LimiterContext) {}

  async settle(decision: Decision, actualCost: number, actualMicroUsd?: number): Promise<AdjustOutcome> {
    const actual = validateCost(actualCost);
    const actualUsd = actualMicroUsd === undefined ? undefined : validateCost(actualMicroUsd, "microUsd");
    const { receipt } = decision;
    return this.#once(receipt, async (receipt) => {
      // Tokens against the reserved cost; money (when given) against what each usd item reserved.
      const items = receipt.items
        .map((item) => ({
          counter: item.counter,
          id: item.id,
          limit: item.limit,
          delta:
            item.limit.unit === "tokens"
              ? actual - receipt.cost
              : item.limit.unit === "usd" && actualUsd !== undefined
                ? actualUsd - item.cost
                : 0,
          chargedAt: receipt.at,
        }))
        .filter((item) => item.delta !== 0);
      if (items.length === 0) return APPLIED;
      // The ledger keeps what was really used, whether or not the counter store took the adjustment.
      if (this.#firstRecord(receipt)) {
        for (const item of items) {
          const at = item.delta > 0 ? this.context.clock.now() : receipt.at;
          if (item.limit.algorithm !== "concurrency") this.#record(decision, item, item.delta, at);
        }
      }
      return this.#adjust(receipt, items);
    });
  }

  /** Gives back every unit a decision charged and frees its leases. */
  async refund(decision: Decision): Promise<AdjustOutcome> {
    return this.#once(decision.receipt, async (receipt) => {
      const items = refundsOf(receipt.items, receipt.at);
      if (this.#firstRecord(receipt)) {
        for (const item of items) this.#record(decision, item, item.delta, item.chargedAt);
      }
      const refunded = await this.#adjust(receipt, items);
      const released = await this.release(decision);
      return refunded.applied ? released : refunded;
    });
  }

  /** Releases the concurrency leases a decision took. */
  async release(decision: Decision): Promise<AdjustOutcome> {
    const { receipt } = decision;
    if (receipt === undefined) return APPLIED;
    const leases = leasesOf(receipt.items);
    if (leases.length === 0) return APPLIED;
    return this.#call(receipt, "release", leases);
  }

  async #adjust(receipt: ChargeReceipt, items: AdjustItem[]): Promise<AdjustOutcome> {
    if (items.length === 0) return APPLIED;
    return this.#call(receipt, "adjust", items);
  }

  /** Calls the store that took the charge: the primary through its guard, or the fallback. */
  async #call(
    receipt: ChargeReceipt,
    operation: "adjust" | "release",
    items: readonly AdjustItem[] | readonly ReleaseItem[],
  ): Promise<AdjustOutcome> {
    const { context } = this;
    try {
      const store = receipt.store === "fallback" ? context.fallback.store : context.store;
      const method = store[operation] as (items: readonly CounterRef[]) => void | Promise<void>;
      if (store !== context.store) await method.call(store, items);
      else if (operation === "adjust") await guardedAdjust(context, operation, items as readonly AdjustItem[]);
      else await guarded(context, operation, method, items, items);
      return APPLIED;
    } catch (error) {
      context.hooks.onStoreError?.(error, operation);
      return { applied: false, error };
    }
  }

  #record(decision: Decision, item: AdjustItem, quantity: number, at: number) {
    this.context.usage.record(item, quantity, at, decision.plan, decision.category);
  }

  /**
   * Claims a receipt for its one settle or refund: a failed store call gives the claim back so
   * the caller may retry. No receipt (nothing was charged): nothing to do.
   */
  async #once(
    receipt: ChargeReceipt | undefined,
    apply: (receipt: ChargeReceipt) => Promise<AdjustOutcome>,
  ): Promise<AdjustOutcome> {
    if (receipt === undefined) return APPLIED;
    if (this.#adjusted.has(receipt)) return { applied: false, error: new TollgateError(ALREADY_ADJUSTED) };
    this.#adjusted.add(receipt);
    const outcome = await apply(receipt);
    if (!outcome.applied) this.#adjusted.delete(receipt);
    return outcome;
  }

  /**
   * A settle or refund reaches the ledger once per charge: a call retried after the store failed
   * (the claim of `once` is given back then) must not record the same usage again.
   */
  #firstRecord(receipt: ChargeReceipt): boolean {
    if (!this.context.recording || this.#recorded.has(receipt)) return false;
    this.#recorded.add(receipt);
    return true;
  }
}
