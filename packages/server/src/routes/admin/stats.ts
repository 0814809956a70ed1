import { z } from "zod";
import type { ServerContext } from "../../context.js";
import { errors } from "../../schemas.js";
import type { App } from "../types.js";
import { atLeast, security } from "./common.js";

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
    {
      preHandler: atLeast(ctx, "readonly"),
      schema: {
        tags: ["admin"],
        summary: "Decisions per minute over the last hour on this instance, and whether the counter store is degraded",
        security,
        response: {
          200: z.object({
            minutes: z.array(minute),
            store: z.object({
              name: z.string(),
              breaker: z.enum(["closed", "open", "half-open"]),
              degraded: z.boolean().describe("Breaker not closed, or degraded decisions in the last 5 minutes."),
            }),
          }),
          ...errors(401, 403),
        },
      },
    },
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
