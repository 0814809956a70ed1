import { type AlertsOptions, createAlerts, silentLogger } from "@tollgate/alerts";
import { createLimiter, manualClock, memoryStore } from "@tollgate/core";

export const START = Date.UTC(2026, 2, 10, 12, 0, 0);

/**
 * A limiter with one monitor limit of 1 per minute per org alerting `ops`, wired to alerts built
 * from `options`: `cross(org)` sends two requests, the second crossing.
 */
export function monitorSetup(options: Omit<AlertsOptions, "store" | "clock">) {
  const clock = manualClock(START);
  const store = memoryStore({ clock });
  const alerts = createAlerts({ logger: silentLogger, ...options, store, clock });
  const limiter = createLimiter({
    store,
    clock,
    categories: {
      llm_call: {
        limits: [
          {
            name: "org-minute",
            per: "org",
            algorithm: "fixed-window",
            limit: 1,
            window: "1m",
            mode: "monitor",
            alert: "ops",
          },
        ],
      },
    },
    hooks: alerts.hooks,
  });
  return {
    clock,
    store,
    alerts,
    limiter,
    async cross(org = "acme") {
      await limiter.check({ subject: { org }, category: "llm_call" });
      await limiter.check({ subject: { org }, category: "llm_call" });
    },
  };
}
