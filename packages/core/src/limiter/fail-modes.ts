import type { Decision } from "../decision.js";
import type { DecideResult } from "../store.js";
import type { LimiterContext } from "./context.js";
import type { Prepared } from "./prepare.js";
import { scoped, toDecision } from "./to-decision.js";

/**
 * The decision when the primary store could not answer: a `closed` enforced limit denies;
 * `open` ones allow. (`local` limits are decided by the fallback first: see {@link degrade}.)
 */
function failModeDecision(prepared: Prepared): Decision {
  const closed = prepared.items.some(({ limit }) => limit.mode === "enforce" && limit.failMode === "closed");
  const decision = scoped({ allowed: !closed, reason: "store_unavailable", degraded: true, limits: [] }, prepared);
  if (closed) decision.retryAfter = 1;
  return decision;
}

function fromFallback(local: Prepared, result: DecideResult): Decision {
  const decision = toDecision(local, result, "fallback");
  decision.degraded = true;
  return decision;
}

/**
 * The primary store failed (`error`, during `operation`): the fallback decides the `local`
 * limits, and the fail modes the rest. Answers synchronously when the fallback does; with
 * `mayWait: false` (checkSync) a fallback that would answer with a promise is not asked.
 */
export function degrade(
  context: LimiterContext,
  prepared: Prepared,
  error: unknown,
  operation: string,
  mayWait: boolean,
): Decision | Promise<Decision> {
  const { hooks, fallback } = context;
  hooks.onStoreError?.(error, operation);
  const local = fallback.requestFor(prepared);
  if (local === undefined) return failModeDecision(prepared);
  const store = fallback.store;
  if (!mayWait && store.synchronous !== true) return failModeDecision(prepared);
  const fallbackFailed = (fallbackError: unknown) => {
    hooks.onStoreError?.(fallbackError, `fallback ${operation}`);
    return failModeDecision(prepared);
  };
  try {
    const answer = store.decide(local);
    return answer instanceof Promise
      ? answer.then((result) => fromFallback(local, result), fallbackFailed)
      : fromFallback(local, answer);
  } catch (fallbackError) {
    return fallbackFailed(fallbackError);
  }
}
