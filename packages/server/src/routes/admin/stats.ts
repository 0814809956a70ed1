import { z } from "zod";
import type { ServerContext } from "../../context.js";
import { route } from "../../openapi/operation.js";
import type { App } from "../types.js";

const minute = z.object({
  start: z.string(),
  allowed: z.number(),
  denied: z.number(),
  monitored: z.number().describe("Allowed, but a monitor-mode limit was over its threshold."),
  degraded: z.number().describe("Decided without the counter store (its failMode applied)."),
});

/** GET /v1/admin/stats/decisions (readonly): this instance's decisions per minute, and the store's health. */
export function statsRoutes(app: App, ctx: ServerContext) {
  app.get(
    "/v1/admin/stats/decisions",
    route(ctx, {
      id: "getDecisionStats",
      tag: "admin",
      summary: "Decisions per minute on this instance",
      description:
        "This instance's decisions per minute over the last hour (allowed, denied, monitored, degraded), and whether the counter store is degraded: the dashboard's overview chart.",
      access: { minimum: "readonly" },
      responses: {
        200: {
          description: "The last hour, oldest minute first.",
          schema: z.object({
            minutes: z.array(minute),
            store: z.object({
              name: z.string(),
              breaker: z.enum(["closed", "open", "half-open"]),
              degraded: z.boolean().describe("Breaker not closed, or degraded decisions in the last 5 minutes."),
            }),
          }),
          examples: {
            quiet: {
              summary: "One minute",
              value: {
                minutes: [{ start: "2026-03-10T12:00:00.000Z", allowed: 120, denied: 3, monitored: 1, degraded: 0 }],
                store: { name: "redis", breaker: "closed", degraded: false },
              },
            },
          },
        },
      },
    }),
    async () => {
      const series = ctx.metrics.rate.series();
      const breaker = ctx.limiter.breakerState;
      const recent = series.slice(-5).some((m) => m.degraded > 0);
      return {
        minutes: series.map((m) => ({ ...m, start: new Date(m.start).toISOString() })),
        store: { name: ctx.store.name, breaker, degraded: breaker !== "closed" || recent },
      };
    },
  );
}
