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
 */
export function evaluateDecision(
  states: readonly (CounterState | undefined)[],
  items: readonly DecideItem[],
  charge: boolean,
  now: number,
): Evaluation {
  const charges = new Array(items.length);
  let enforcedFit = true;
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as DecideItem;
    const attempt = algorithms[item.limit.algorithm].charge(states[i], item.limit, item.cost, now, item.leaseId);
    charges[i] = attempt;
    if (!attempt.fits && item.limit.mode === "enforce") enforcedFit = false;
  }
  const charged = charge && enforcedFit;
  const outcomes: Outcome[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as DecideItem;
    const algorithm = algorithms[item.limit.algorithm];
    const attempt = charges[i];
    const view = algorithm.view(charged ? attempt.next : states[i], item.limit, now);
    // A monitor crosses when this charge goes over and the counter was not over before it.
    const crossed =
      charged && item.limit.mode === "monitor" && !attempt.fits && algorithm.charge(states[i], item.limit, 0, now).fits;
    outcomes[i] = {
      fits: attempt.fits,
      exceeded: !attempt.fits,
      crossed,
      used: view.used,
      remaining: view.remaining,
      resetMs: view.resetMs,
      retryAfterMs: attempt.retryAfterMs,
    };
  }
  return {
    result: { now, charged, outcomes },
    next: charged ? charges.map((attempt) => attempt.next) : undefined,
  };
}
