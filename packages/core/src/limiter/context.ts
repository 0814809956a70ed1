import { type Clock, systemClock } from "../clock.js";
import type { AdjustItem, CounterRef, Store } from "../store.js";
import { StoreGuard } from "../store-guard.js";
import { noopUsageObserver, type UsageObserver } from "../usage.js";
import { Fallback } from "./fallback.js";
import type { LimiterHooks, LimiterOptions } from "./types.js";

/** What every part of a limiter shares: its store (behind its guard), fallback, hooks and ledger. */
export interface LimiterContext {
  readonly store: Store;
  readonly guard: StoreGuard;
  readonly fallback: Fallback;
  readonly clock: Clock;
  readonly hooks: LimiterHooks;
  readonly usage: UsageObserver;
  /** The usage observer records something (it is not the default noop). */
  readonly recording: boolean;
  /** Quotas the store lost are rebuilt from the ledger (it can read usage back; the store can seed). */
  readonly restoring: boolean;
  readonly restoreTimeoutMs: number;
}

export function createContext(options: LimiterOptions): LimiterContext {
  const clock = options.clock ?? systemClock;
  const hooks = options.hooks ?? {};
  const { store } = options;
  const guard = new StoreGuard(store, clock, {
    timeoutMs: options.timeoutMs ?? 100,
    breaker: options.breaker ?? {},
    ...(hooks.onBreakerChange ? { onBreakerChange: hooks.onBreakerChange } : {}),
    ...(hooks.onCompensation ? { onCompensation: hooks.onCompensation } : {}),
    ...(hooks.onStoreError ? { onStoreError: hooks.onStoreError } : {}),
  });
  if (hooks.onHealthChange) guard.subscribe(hooks.onHealthChange);
  const fallback = new Fallback(options.fallback, options.fallbackShare, clock);
  const usage = options.usage ?? noopUsageObserver;
  return {
    store,
    guard,
    fallback,
    clock,
    hooks,
    usage,
    recording: usage !== noopUsageObserver,
    restoring: usage.usedBetween !== undefined && store.seed !== undefined,
    restoreTimeoutMs: options.restoreTimeoutMs ?? 2000,
  };
}

/**
 * Calls the primary store through its node's breaker and the deadline; failures reject with the
 * cause. A synchronous store (memory) cannot hang, so it is called directly: a throw still degrades.
 */
export function guarded<T, A>(
  context: LimiterContext,
  operation: string,
  call: (argument: A) => T | Promise<T>,
  argument: A,
  refs: readonly CounterRef[],
  onLateResult?: (value: T) => void,
): T | Promise<T> {
  const { store } = context;
  if (store.synchronous === true) return call.call(store, argument);
  return context.guard.call(operation, call, argument, refs, onLateResult);
}

/**
 * A settle or refund on the primary store: through the guard's exactly-once adjust (an abandoned
 * call counts for the retry or is undone). A synchronous store cannot be abandoned: called directly.
 */
export function guardedAdjust(
  context: LimiterContext,
  operation: string,
  items: readonly AdjustItem[],
): void | Promise<void> {
  const { store } = context;
  if (store.synchronous === true) return store.adjust(items);
  return context.guard.adjust(operation, items, items);
}
