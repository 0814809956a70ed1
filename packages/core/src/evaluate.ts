import { algorithms, type CounterState } from "./algorithms/index.js";
import type { DecideItem, DecideResult, Outcome } from "./store.js";

export interface Evaluation {
  result: DecideResult;
  /** States to write when `result.charged`; undefined otherwise. */
  next: (CounterState | undefined)[] | undefined;
}

/**
 * The all-or-nothing rule, as a pure function over the current states of a decision's counters:
 * every item is evaluated; if any enforced item does not fit, nothing is charged; otherwise (when
 * `charge` is set) every item is, monitors included. Stores that can run it in-process (memory)
 * call it directly; the others reimplement it and are held to it by the conformance suite.
 * It runs on every decision of the memory store, so it allocates only what it returns.
 */
export function evaluateDecision(
  states: readonly (CounterState | undefined)[],
  items: readonly DecideItem[],
  charge: boolean,
  now: number,
): Evaluation {
  const count = items.length;
  const next: (CounterState | undefined)[] = new Array(count);
  const outcomes: Outcome[] = new Array(count);
  let enforcedFit = true;
  for (let i = 0; i < count; i++) {
    const item = items[i] as DecideItem;
    const attempt = algorithms[item.limit.algorithm].charge(states[i], item.limit, item.cost, now, item.leaseId);
    next[i] = attempt.next;
    if (!attempt.fits && item.limit.mode === "enforce") enforcedFit = false;
    // Filled in below, once we know whether the decision charges.
    outcomes[i] = {
      fits: attempt.fits,
      exceeded: !attempt.fits,
      crossed: false,
      used: 0,
      remaining: 0,
      resetMs: 0,
      retryAfterMs: attempt.retryAfterMs,
    };
  }
  const charged = charge && enforcedFit;
  for (let i = 0; i < count; i++) {
    const item = items[i] as DecideItem;
    const algorithm = algorithms[item.limit.algorithm];
    const outcome = outcomes[i] as Outcome;
    const view = algorithm.view(charged ? next[i] : states[i], item.limit, now);
    outcome.used = view.used;
    outcome.remaining = view.remaining;
    outcome.resetMs = view.resetMs;
    // A monitor crosses when this charge goes over and the counter was not over before it.
    if (charged && !outcome.fits && item.limit.mode === "monitor") {
      outcome.crossed = algorithm.charge(states[i], item.limit, 0, now).fits;
    }
  }
  return { result: { now, charged, outcomes }, next: charged ? next : undefined };
}
