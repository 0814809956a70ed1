import { compileConfig } from "./config.js";
import type { Decision } from "./decision.js";
import { TollgateError } from "./errors.js";
import { ApplicableLimits } from "./limiter/applicable.js";
import { createContext } from "./limiter/context.js";
import { decide } from "./limiter/decide.js";
import { prepare } from "./limiter/prepare.js";
import { resetSubject } from "./limiter/reset.js";
import { ChargeLifecycle } from "./limiter/settle.js";
import type { CheckInput, Limiter, LimiterOptions } from "./limiter/types.js";

export type { AdjustOutcome, CheckInput, Limiter, LimiterHooks, LimiterOptions } from "./limiter/types.js";

/*
 * The limiter, assembled from modules with one idea each (packages/core/src/limiter/):
 *   types.ts        the public interfaces
 *   input.ts        validation of what callers hand in
 *   applicable.ts   which limits apply to a plan and category
 *   prepare.ts      a request -> the store request (one item per counter)
 *   decide.ts       the decision path shared by check and checkSync
 *   to-decision.ts  a store's answer -> the Decision callers read
 *   fail-modes.ts   the store failed: fallback and fail modes
 *   fallback.ts     the fallback store and its share of each limit
 *   restore.ts      quotas rebuilt from the usage ledger
 *   settle.ts       a charge afterwards: ledger, settle, refund, release, compensation
 *   reset.ts        deleting a subject's counters
 * docs/how-a-decision-travels.md follows one decision through them.
 */

/** Creates a limiter. Configuration is validated here; a ConfigError names every bad field. */
export function createLimiter(options: LimiterOptions): Limiter {
  const context = createContext(options);
  const { store, guard, restoring } = context;
  const lifecycle = new ChargeLifecycle(context);
  let applicable = new ApplicableLimits(compileConfig(options), options.planFor);

  function check(input: CheckInput): Promise<Decision> {
    try {
      const decision = decide(context, prepare(input, applicable, context.hooks, restoring), input, true);
      return decision instanceof Promise ? decision : Promise.resolve(decision);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  function checkSync(input: CheckInput): Decision {
    if (store.synchronous !== true) {
      throw new TollgateError(`checkSync needs a synchronous store; "${store.name}" is not: use check()`);
    }
    // No await here: quotas are decided on what the store has (restoring needs the ledger: check()).
    const prepared = prepare(input, applicable, context.hooks, false);
    // A synchronous store, no restore, and a fallback that is not waited for: always a Decision.
    return decide(context, prepared, input, false) as Decision;
  }

  return {
    check,
    checkSync,
    acquire: check,
    peek: (input) => check({ ...input, cost: 0, dryRun: true }),
    settle: (decision, actualCost, actualMicroUsd) => lifecycle.settle(decision, actualCost, actualMicroUsd),
    refund: (decision) => lifecycle.refund(decision),
    release: (decision) => lifecycle.release(decision),
    reset: (subject, resetOptions = {}) => resetSubject(context, applicable, subject, resetOptions.limit),
    update(next) {
      applicable = new ApplicableLimits(compileConfig(next), options.planFor);
    },
    get config() {
      return applicable.config;
    },
    get breakerState() {
      return guard.health().state;
    },
    health: () => guard.health(),
    onHealthChange: (listener) => guard.subscribe(listener),
    store,
  };
}
