import type { CompiledLimit } from "../config.js";
import type { MissingSubject } from "../decision.js";
import type { DecideItem, DecideRequest } from "../store.js";
import { subjectId, validateSubject } from "../subject.js";
import type { ApplicableLimits } from "./applicable.js";
import { validateCategory, validateCost, validateFlags, validateObject, validatePlan } from "./input.js";
import type { CheckInput, LimiterHooks } from "./types.js";

/** A request ready for the store: it is the store request itself (one object fewer per decision). */
export interface Prepared extends DecideRequest {
  items: DecideItem[];
  charge: boolean;
  cost: number;
  plan: string | undefined;
  category: string | undefined;
  /** Enforced limits whose subject is absent (`whenMissing: deny`): the decision is subject_missing. */
  missing: MissingSubject[] | undefined;
  /** Limits passed over for lack of their subject (`whenMissing: skip`). */
  skipped: MissingSubject[] | undefined;
}

function newLeaseId(): string {
  return globalThis.crypto.randomUUID();
}

/**
 * Validates a request and lists the counters it is decided on: one item per applicable limit
 * the subject has an id for. `restoring`: quota items ask the store whether the ledger must
 * rebuild them first.
 */
export function prepare(
  input: CheckInput,
  applicable: ApplicableLimits,
  hooks: LimiterHooks,
  restoring: boolean,
): Prepared {
  validateObject(input);
  const { config } = applicable;
  const subject = validateSubject(input.subject);
  const cost = validateCost(input.cost);
  const microUsd = input.microUsd === undefined ? 0 : validateCost(input.microUsd, "microUsd");
  const category = validateCategory(input.category, config);
  const plan = validatePlan(input.plan ?? applicable.planFor(subject), config);
  validateFlags(input);
  const byok = input.byok === true;
  const items: DecideItem[] = [];
  let missing: MissingSubject[] | undefined;
  let skipped: MissingSubject[] | undefined;
  let quotas = false;
  const limits = applicable.for(plan, category);
  for (let i = 0; i < limits.length; i++) {
    const { limit, counter } = limits[i] as CompiledLimit;
    if (byok && (limit.unit !== "requests" || limit.byokExempt)) continue;
    const id = subjectId(subject, limit.per);
    if (id === undefined) {
      // No silent pass: an identity bug upstream must fail loudly, not open an unlimited budget.
      const entry: MissingSubject = { limit: limit.name, field: limit.per as MissingSubject["field"] };
      const deny = limit.whenMissing === "deny" && limit.mode === "enforce";
      if (deny) missing = [...(missing ?? []), entry];
      else skipped = [...(skipped ?? []), entry];
      hooks.onSubjectMissing?.(entry, deny ? "deny" : "skip", input);
      continue;
    }
    const itemCost =
      limit.unit === "tokens" ? cost : limit.unit === "usd" ? (cost > 0 ? microUsd : 0) : cost > 0 ? 1 : 0;
    const item: DecideItem = { counter, id, limit, cost: itemCost };
    if (limit.algorithm === "concurrency" && itemCost > 0) item.leaseId = newLeaseId();
    else if (limit.algorithm === "quota") quotas = true;
    items.push(item);
  }
  const prepared: Prepared = {
    items,
    charge: input.dryRun !== true && cost > 0,
    cost,
    plan,
    category,
    missing,
    skipped,
  };
  if (quotas && restoring) prepared.restore = true;
  return prepared;
}
