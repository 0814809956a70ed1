import type { CounterRef } from "./store.js";

/**
 * Where charged usage goes (the usage ledger of `@tollgate/db`), and where quotas are restored
 * from. The limiter calls `record` for every counter a decision charged, a settle adjusted or a
 * refund gave back, on the hot path: it must only enqueue (never throw, never wait).
 */
export interface UsageObserver {
  /**
   * `quantity` units (negative for refunds) of `ref`'s limit used by its subject at store time
   * `at`, under `plan` and `category` (`undefined` when the request had none).
   */
  record(ref: CounterRef, quantity: number, at: number, plan: string | undefined, category: string | undefined): void;
  /**
   * Units of a counter used by a subject (`kind:id`) from `from` (inclusive) to `to` (exclusive),
   * store time. With it, quotas whose counter vanished (Redis flushed, memory store restarted)
   * are rebuilt before their next decision; without it they restart from zero.
   */
  usedBetween?(counter: string, subject: string, from: number, to: number): Promise<number>;
}

/** Records nothing and restores nothing: the limiter's default. */
export const noopUsageObserver: UsageObserver = Object.freeze({ record() {} });
