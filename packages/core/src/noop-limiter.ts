import { compileConfig } from "./config.js";
import type { Decision } from "./decision.js";
import type { AdjustOutcome, Limiter } from "./limiter.js";
import type { DecideResult, Store } from "./store.js";
import type { StoreHealth } from "./store-guard.js";

/** A store that holds nothing: every counter is always empty. */
const noStore: Store = Object.freeze({
  name: "none",
  synchronous: true,
  decide: (): DecideResult => ({ now: Date.now(), charged: false, outcomes: [] }),
  adjust() {},
  release() {},
  reset() {},
});

const applied = (): Promise<AdjustOutcome> => Promise.resolve({ applied: true });
const admitted = (): Decision => ({ allowed: true, limits: [] });

/**
 * A limiter that lets everything through and counts nothing: what to hand an adapter (or any
 * code that takes a Limiter) when limiting is switched off, instead of `null` checks at every use.
 * It validates nothing either, so turning limits off never turns a request into an error.
 *
 * @example
 * app.use(rateLimit(config.limitsEnabled ? limiter : noopLimiter()));
 */
export function noopLimiter(): Limiter {
  const config = compileConfig({});
  const health: StoreHealth = { store: noStore.name, state: "closed", degraded: false, partitions: [] };
  return {
    check: () => Promise.resolve(admitted()),
    checkSync: admitted,
    acquire: () => Promise.resolve(admitted()),
    peek: () => Promise.resolve(admitted()),
    settle: applied,
    refund: applied,
    release: applied,
    reset: () => Promise.resolve(),
    update() {},
    config,
    breakerState: "closed",
    health: () => ({ ...health, partitions: [] }),
    onHealthChange: () => () => {},
    store: noStore,
  };
}
