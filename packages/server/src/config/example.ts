import type { ServerConfigInput } from "./schema.js";

const month = (limit: number) => ({ name: "month", per: "key", algorithm: "quota", limit, period: "month" });

/** Case 2's threshold for one category: per organisation per minute, monitor only, alerting `ops`. */
const orgMonitor = (limit: number) => ({
  limits: [
    { name: "org-minute", per: "org", algorithm: "fixed-window", limit, window: "1m", mode: "monitor", alert: "ops" },
  ],
});

/**
 * The built-in example: the four use cases of the README side by side, each in its own plans
 * or categories so they never interfere with each other.
 */
export const exampleConfig: ServerConfigInput = {
  plans: {
    // Case 3: API-key tiers, per-minute rate plus a calendar-month allowance; token buckets give
    // the premium tiers short bursts above their steady rate.
    free: { limits: [{ name: "minute", per: "key", algorithm: "fixed-window", limit: 10, window: "1m" }, month(1000)] },
    basic: {
      limits: [{ name: "minute", per: "key", algorithm: "fixed-window", limit: 50, window: "1m" }, month(10_000)],
    },
    pro: {
      limits: [
        { name: "minute", per: "key", algorithm: "token-bucket", limit: 200, window: "1m", burst: 400 },
        month(100_000),
      ],
    },
    enterprise: {
      limits: [
        { name: "minute", per: "key", algorithm: "token-bucket", limit: 1000, window: "1m", burst: 2000 },
        month(1_000_000),
      ],
    },
    // Case 4: daily quotas for the generator only (category `generate`); bring-your-own-key skips them.
    anonymous: {
      limits: [
        {
          name: "day",
          per: "ip",
          algorithm: "fixed-window",
          limit: 1,
          window: "1d",
          categories: ["generate"],
          byokExempt: true,
        },
      ],
    },
    "signed-in": {
      limits: [
        {
          name: "day",
          per: "user",
          algorithm: "fixed-window",
          limit: 3,
          window: "1d",
          categories: ["generate"],
          byokExempt: true,
        },
      ],
    },
  },
  categories: {
    // Case 2: monitor-only thresholds per organisation per minute, alerting once per window.
    llm_call: orgMonitor(15),
    collections: orgMonitor(3),
    evaluations: orgMonitor(3),
    // Case 1: the ops console's "Ask AI" triage: at most 20 in any rolling hour per user (an exact
    // sliding log), failing open; agent keys lack the `llm` scope and get `forbidden`; a request
    // without a user is denied `subject_missing` rather than let through.
    ops_triage: {
      requiredScope: "llm",
      limits: [{ name: "llm-hour", per: "user", algorithm: "sliding-log", limit: 20, window: "1h", failMode: "open" }],
    },
    // Case 4's generator endpoint (its limits live in the anonymous / signed-in plans).
    generate: { limits: [] },
  },
  // Case 2's alerts: one log line per org, category and minute over the threshold. Point `ops` at a
  // receiver with TOLLGATE__alerts__ops='{"type":"webhook","url":"http://127.0.0.1:9099/hook"}'.
  alerts: { ops: { type: "log" } },
};
