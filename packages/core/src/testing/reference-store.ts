import { algorithms, type CounterState } from "../algorithms/index.js";
import type { Clock } from "../clock.js";
import { evaluateDecision } from "../evaluate.js";
import type { AdjustItem, CounterRef, DecideRequest, DecideResult, ReleaseItem, Store } from "../store.js";

/**
 * The reference model stores are compared with: the pure algorithms over a plain Map, with no
 * expiry, no eviction, no batching, no I/O. Whatever a store does for speed or scale, it must
 * answer exactly as this does.
 */
export function referenceStore(clock: Clock): Store & { states: Map<string, CounterState> } {
  const states = new Map<string, CounterState>();
  const keyOf = (ref: CounterRef) => `${ref.counter}\u0000${ref.id}`;
  return {
    name: "reference",
    states,
    decide(request: DecideRequest): DecideResult {
      const now = clock.now();
      const current = request.items.map((item) => states.get(keyOf(item)));
      const { result, next } = evaluateDecision(current, request.items, request.charge, now);
      if (next) {
        request.items.forEach((item, i) => {
          setState(item, next[i]);
        });
      }
      return result;
    },
    adjust(items: readonly AdjustItem[]) {
      const now = clock.now();
      for (const item of items) {
        const algorithm = algorithms[item.limit.algorithm];
        setState(item, algorithm.adjust(states.get(keyOf(item)), item.limit, item.delta, now, item.chargedAt));
      }
    },
    release(items: readonly ReleaseItem[]) {
      const now = clock.now();
      for (const item of items) {
        setState(item, algorithms[item.limit.algorithm].release(states.get(keyOf(item)), item.leaseId, now));
      }
    },
    reset(items: readonly CounterRef[]) {
      for (const item of items) states.delete(keyOf(item));
    },
  };
  function setState(ref: CounterRef, state: CounterState | undefined) {
    if (state === undefined) states.delete(keyOf(ref));
    else states.set(keyOf(ref), state);
  }
}
