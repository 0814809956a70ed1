import type { CompiledConfig } from "../config.js";
import { InputError } from "../errors.js";
import { MAX_AMOUNT } from "../limit.js";
import { NAME_PATTERN, NAME_RULE } from "../names.js";
import type { Subject } from "../subject.js";
import type { CheckInput } from "./types.js";

/*
 * Validation of what a caller hands the limiter: each check throws an InputError naming the
 * field, before anything is counted. They run on every decision, so none allocates on the good
 * path. (The subject has its own module: ../subject.ts.)
 */

/** The input itself: an object. */
export function validateObject(input: unknown): asserts input is CheckInput {
  if (typeof input !== "object" || input === null) throw new InputError("input", "must be an object");
}

/** A whole number of units from 0 to MAX_AMOUNT; absent means 1. */
export function validateCost(cost: unknown, field = "cost"): number {
  if (cost === undefined) return 1;
  if (typeof cost !== "number" || !Number.isInteger(cost) || cost < 0 || cost > MAX_AMOUNT) {
    throw new InputError(field, `must be a whole number from 0 to ${MAX_AMOUNT} (got ${JSON.stringify(cost)})`);
  }
  return cost;
}

/** A category name the configuration knows (any well-formed name while it names none). */
export function validateCategory(category: unknown, config: CompiledConfig): string | undefined {
  if (category === undefined) return undefined;
  if (typeof category !== "string" || !NAME_PATTERN.test(category)) {
    throw new InputError("category", `must be ${NAME_RULE}`);
  }
  if (config.knownCategories.size > 0 && !config.knownCategories.has(category)) {
    throw new InputError("category", `unknown category "${category}"`);
  }
  return category;
}

/** A plan the configuration has; absent when neither the request nor `planFor` names one. */
export function validatePlan(plan: unknown, config: CompiledConfig): string | undefined {
  if (plan !== undefined && (typeof plan !== "string" || !config.plans.has(plan))) {
    throw new InputError("plan", `unknown plan ${JSON.stringify(plan)}`);
  }
  return plan;
}

/** `byok` and `dryRun`: booleans when present. */
export function validateFlags(input: CheckInput): void {
  if (input.byok !== undefined && typeof input.byok !== "boolean") throw new InputError("byok", "must be a boolean");
  if (input.dryRun !== undefined && typeof input.dryRun !== "boolean") {
    throw new InputError("dryRun", "must be a boolean");
  }
}

/** The plan a subject is on when the request names none: `signed-in` / `anonymous` when configured. */
export function defaultPlanFor(config: CompiledConfig): (subject: Subject) => string | undefined {
  return (subject) => {
    if (subject.user !== undefined && config.plans.has("signed-in")) return "signed-in";
    if (subject.user === undefined && subject.key === undefined && config.plans.has("anonymous")) return "anonymous";
    return undefined;
  };
}
