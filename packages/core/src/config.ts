import { ConfigError, type Issue } from "./errors.js";
import { type Limit, type LimitSpec, parseLimits } from "./limit.js";
import { isName, NAME_RULE } from "./names.js";

/** A named set of limits a subject is on (free / pro, anonymous / signed-in). */
export interface PlanSpec {
  limits: (LimitSpec | Limit)[];
}

/** A class of endpoint (`llm_call`) whose limits apply to every request in it, whatever the plan. */
export interface CategorySpec {
  limits?: (LimitSpec | Limit)[];
  /** API-key scope a caller needs for this category (enforced by the server; adapters answer 403). */
  requiredScope?: string;
}

/** The limits a limiter enforces. Everything is validated at construction and on `update`. */
export interface LimitsConfig {
  /** Limits applied to every request (each filtered by its `categories`). */
  limits?: (LimitSpec | Limit)[];
  plans?: Record<string, PlanSpec>;
  categories?: Record<string, CategorySpec>;
}

/** A limit ready for decisions: `counter` is its store identity without the subject id. */
export interface CompiledLimit {
  readonly limit: Limit;
  readonly counter: string;
}

export interface CompiledConfig {
  readonly global: readonly CompiledLimit[];
  readonly plans: ReadonlyMap<string, readonly CompiledLimit[]>;
  readonly categories: ReadonlyMap<string, readonly CompiledLimit[]>;
  /** Categories named anywhere (config keys and limits' `categories`). */
  readonly knownCategories: ReadonlySet<string>;
  readonly requiredScopes: ReadonlyMap<string, string>;
}

/**
 * A counter's identity. Plans share one origin so a subject moving from free to pro keeps its
 * usage for a limit of the same name and shape; categories and top-level limits have their own.
 * The algorithm and window are part of it because a different shape means a different state.
 */
function counterId(origin: string, limit: Limit): string {
  const shape = limit.algorithm === "quota" ? `${limit.period}@${limit.timeZone}` : String(limit.windowMs);
  return `${origin}|${limit.name}|${limit.per}|${limit.algorithm}|${shape}`;
}

function compileList(specs: unknown, path: string, origin: string, issues: Issue[]): readonly CompiledLimit[] {
  if (specs === undefined) return [];
  try {
    return parseLimits(specs, path).map((limit) => Object.freeze({ limit, counter: counterId(origin, limit) }));
  } catch (error) {
    if (error instanceof ConfigError) issues.push(...error.issues);
    else throw error;
    return [];
  }
}

function checkName(name: string, path: string, issues: Issue[]) {
  if (!isName(name)) issues.push({ path, message: `names are ${NAME_RULE}` });
}

/** Validates and compiles a limits configuration; throws one ConfigError listing every problem. */
export function compileConfig(config: LimitsConfig): CompiledConfig {
  const issues: Issue[] = [];
  const global = compileList(config.limits, "limits", "g", issues);
  const plans = new Map<string, readonly CompiledLimit[]>();
  for (const [name, plan] of Object.entries(config.plans ?? {})) {
    checkName(name, `plans.${name}`, issues);
    if (typeof plan !== "object" || plan === null) {
      issues.push({ path: `plans.${name}`, message: "must be an object with `limits`" });
      continue;
    }
    plans.set(name, compileList(plan.limits ?? [], `plans.${name}.limits`, "p", issues));
  }
  const categories = new Map<string, readonly CompiledLimit[]>();
  const requiredScopes = new Map<string, string>();
  const knownCategories = new Set<string>();
  for (const [name, category] of Object.entries(config.categories ?? {})) {
    checkName(name, `categories.${name}`, issues);
    if (typeof category !== "object" || category === null) {
      issues.push({ path: `categories.${name}`, message: "must be an object with `limits`" });
      continue;
    }
    knownCategories.add(name);
    categories.set(name, compileList(category.limits, `categories.${name}.limits`, `c:${name}`, issues));
    if (category.requiredScope !== undefined) {
      if (typeof category.requiredScope !== "string" || category.requiredScope.length === 0) {
        issues.push({ path: `categories.${name}.requiredScope`, message: "must be a scope name" });
      } else requiredScopes.set(name, category.requiredScope);
    }
  }
  const all = [...global, ...[...plans.values()].flat(), ...[...categories.values()].flat()];
  for (const { limit } of all) for (const category of limit.categories ?? []) knownCategories.add(category);
  if (issues.length > 0) throw new ConfigError(issues);
  return { global, plans, categories, knownCategories, requiredScopes };
}
