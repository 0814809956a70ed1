import type { Decision } from "../decision.js";
import type { DecideResult } from "../store.js";
import type { LimiterContext } from "./context.js";
import { degrade } from "./fail-modes.js";
import type { Prepared } from "./prepare.js";
import { restoreThenDecide } from "./restore.js";
import { compensate, recordCharge } from "./settle.js";
import { toDecision, withoutStore } from "./to-decision.js";
import type { CheckInput } from "./types.js";

/** Every decision, however it was reached: its charge goes to the ledger, then `onDecision` hears of it. */
function finish(context: LimiterContext, decision: Decision, input: CheckInput): Decision {
  recordCharge(context, decision);
  context.hooks.onDecision?.(decision, input);
  return decision;
}

function finishLater(context: LimiterContext, decision: Decision | Promise<Decision>, input: CheckInput) {
  return decision instanceof Promise
    ? decision.then((settled) => finish(context, settled, input))
    : finish(context, decision, input);
}

/** What the store's answer decides: the decision, or a rebuild from the ledger first (`missing`). */
function answered(context: LimiterContext, prepared: Prepared, result: DecideResult, input: CheckInput) {
  if (result.missing === true) return finishLater(context, restoreThenDecide(context, prepared, result.now), input);
  return finish(context, toDecision(prepared, result, "primary"), input);
}

/** An asynchronous store's answer, through its node's breaker and deadline; a late answer is compensated. */
function askGuarded(context: LimiterContext, prepared: Prepared): Promise<DecideResult> | DecideResult {
  return context.guard.call("decide", context.store.decide, prepared, prepared.items, (late) =>
    compensate(context, prepared.items, late),
  );
}

/**
 * The one decision path of `check` and `checkSync`: asks the store (or needs not to), and turns
 * its answer, or its failure, into a decision. It answers synchronously whenever the store does
 * (memory), so `check` then costs one promise and `checkSync` none; an asynchronous store (Redis)
 * makes it a promise. `mayWait: false` (checkSync) never waits, not even for the fallback.
 */
export function decide(
  context: LimiterContext,
  prepared: Prepared,
  input: CheckInput,
  mayWait: boolean,
): Decision | Promise<Decision> {
  const early = withoutStore(prepared);
  if (early !== undefined) return finish(context, early, input);
  let answer: DecideResult | Promise<DecideResult>;
  try {
    // A synchronous store (memory) cannot hang: called directly, it needs no guard.
    const { store } = context;
    answer = store.synchronous === true ? store.decide(prepared) : askGuarded(context, prepared);
  } catch (error) {
    return finishLater(context, degrade(context, prepared, error, "decide", mayWait), input);
  }
  if (answer instanceof Promise) {
    return answer.then(
      (result) => answered(context, prepared, result, input),
      (error: unknown) => finishLater(context, degrade(context, prepared, error, "decide", mayWait), input),
    );
  }
  return answered(context, prepared, answer, input);
}
