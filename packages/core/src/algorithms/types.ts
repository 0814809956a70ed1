import type { Limit } from "../limit.js";

/** What a counter looks like now, for headers and the usage endpoint. */
export interface CounterView {
  /** Units in use (whole units; may exceed capacity after a settle into debt or in monitor mode). */
  used: number;
  /** Units that can still be spent now, at least 0. */
  remaining: number;
  /** Milliseconds until the counter resets (window end, period end, bucket full, lease expiry). */
  resetMs: number;
}

/** The outcome of trying to charge `cost` against a state. */
export interface Charge<S> {
  /** Would `cost` fit now? */
  fits: boolean;
  /** The state after charging `cost`, whether or not it fits (monitor mode charges anyway). */
  next: S;
  /** When it does not fit: milliseconds until it would (absent other traffic); Infinity if it never can. 0 when it fits. */
  retryAfterMs: number;
}

/**
 * A pure reference algorithm: every function is `(state, limit, ..., now) -> result` with no I/O,
 * no clock and no mutation. Stores either call these (memory) or reimplement them and are held to
 * them by the conformance suite (Redis Lua). `undefined` state means "never charged or expired".
 */
export interface Algorithm<S> {
  charge(state: S | undefined, limit: Limit, cost: number, now: number, leaseId?: string): Charge<S>;
  view(state: S | undefined, limit: Limit, now: number): CounterView;
  /**
   * Settles a charge made at `chargedAt` by `delta` units: negative refunds (only while the charged
   * window is still current), positive charges the excess now (possibly into debt).
   */
  adjust(state: S | undefined, limit: Limit, delta: number, now: number, chargedAt: number): S | undefined;
  /** Frees a concurrency lease; other algorithms return the state unchanged. */
  release(state: S | undefined, leaseId: string, now: number): S | undefined;
  /** How long the state still matters; at or below 0 it is equivalent to `undefined` and may be deleted. */
  ttlMs(state: S, limit: Limit, now: number): number;
}

/** Tolerance for comparing accumulated floating-point times (GCRA): 10 microseconds. */
export const TIME_EPSILON_MS = 0.01;
