import type { CompiledConfig, CompiledLimit } from "../config.js";
import type { Limit } from "../limit.js";
import type { Subject } from "../subject.js";
import { defaultPlanFor } from "./input.js";

const NO_LIMITS: readonly CompiledLimit[] = Object.freeze([]);

const appliesTo = (limit: Limit, category: string | undefined) =>
  limit.categories === undefined || (category !== undefined && limit.categories.includes(category));

/**
 * The configuration in force and, for each plan and category, the limits a request there is
 * decided against: worked out once per pair, then read on every decision. `update` swaps the
 * whole object, so a decision never sees half of an old configuration.
 */
export class ApplicableLimits {
  readonly planFor: (subject: Subject) => string | undefined;
  // plan -> category -> limits; "" stands for none. Nested maps avoid building a key per decision.
  private readonly lists = new Map<string, Map<string, readonly CompiledLimit[]>>();
  /** The limits of a request with neither plan nor category: the common library case, one branch away. */
  private unscoped: readonly CompiledLimit[] | undefined;

  constructor(
    readonly config: CompiledConfig,
    planFor: ((subject: Subject) => string | undefined) | undefined,
  ) {
    this.planFor = planFor ?? defaultPlanFor(config);
  }

  for(plan: string | undefined, category: string | undefined): readonly CompiledLimit[] {
    if (plan === undefined && category === undefined && this.unscoped !== undefined) return this.unscoped;
    let byCategory = this.lists.get(plan ?? "");
    if (byCategory === undefined) {
      byCategory = new Map();
      this.lists.set(plan ?? "", byCategory);
    }
    let list = byCategory.get(category ?? "");
    if (list === undefined) {
      const { config } = this;
      const planLimits = plan === undefined ? NO_LIMITS : (config.plans.get(plan) ?? NO_LIMITS);
      const categoryLimits = category === undefined ? NO_LIMITS : (config.categories.get(category) ?? NO_LIMITS);
      // Not frozen: frozen arrays leave V8's fast iteration paths, and this one is read per decision.
      list = [...config.global, ...planLimits, ...categoryLimits].filter(({ limit }) => appliesTo(limit, category));
      byCategory.set(category ?? "", list);
      if (plan === undefined && category === undefined) this.unscoped = list;
    }
    return list;
  }

  /** Every limit of every plan and category (a reset covers them all). */
  all(): readonly CompiledLimit[] {
    const { config } = this;
    return [...config.global, ...[...config.plans.values()].flat(), ...[...config.categories.values()].flat()];
  }
}
