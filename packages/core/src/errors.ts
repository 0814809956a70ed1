/** One problem found in a configuration or an input, located by its path (`limits[0].window`). */
export interface Issue {
  path: string;
  message: string;
}

/** Base class of every error Tollgate throws on purpose. Denials are never thrown: they are decisions. */
export class TollgateError extends Error {
  override name = "TollgateError";
}

/**
 * A configuration (limits, plans, categories, options) is invalid. Thrown at construction,
 * never during a decision. `issues` lists every problem with the path of the field.
 *
 * @example
 * try { parseLimit({ name: "m", per: "user", algorithm: "fixed-window", limit: -1, window: "1m" }) }
 * catch (e) { if (e instanceof ConfigError) console.error(e.issues) } // [{ path: "limit", ... }]
 */
export class ConfigError extends TollgateError {
  override name = "ConfigError";
  readonly issues: readonly Issue[];
  constructor(issues: Issue[]) {
    super(`Invalid configuration: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ")}`);
    this.issues = Object.freeze(issues.map((i) => Object.freeze({ ...i })));
  }
}

/**
 * A request to the limiter is invalid (bad subject, cost, plan, category...). Nothing was
 * counted. `field` names the offending input so HTTP layers can answer 400 with it.
 */
export class InputError extends TollgateError {
  override name = "InputError";
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

/** The store failed or timed out. Surfaces only through `decision.degraded` unless thrown by a store to the limiter. */
export class StoreUnavailableError extends TollgateError {
  override name = "StoreUnavailableError";
}
