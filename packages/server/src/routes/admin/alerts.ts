import { ALERT_EVENT_TYPES, DELIVERY_STATUSES } from "@tollgate/alerts";
import { z } from "zod";
import { describeSinks, sqlDeliveryLog } from "../../alerting.js";
import type { ServerContext } from "../../context.js";
import { errors } from "../../schemas.js";
import type { App } from "../types.js";
import { atLeast, security } from "./common.js";

const delivery = z
  .object({
    id: z.string().describe("X-Tollgate-Delivery: the same on every try"),
    eventId: z.string(),
    type: z.enum(ALERT_EVENT_TYPES),
    subject: z.string(),
    sink: z.string(),
    sinkType: z.string(),
    target: z.string().describe("The sink's URL redacted to scheme and host"),
    status: z.enum(DELIVERY_STATUSES),
    attempts: z.number(),
    lastError: z.string().optional(),
    lastStatus: z.number().optional(),
    createdAt: z.string(),
    updatedAt: z.string(),
    nextAttemptAt: z.string().optional(),
    event: z.record(z.string(), z.unknown()).describe("The event as the webhook body carries it"),
  })
  .meta({ id: "AlertDelivery" });

/** GET /v1/admin/alerts (readonly and up): the sinks (redacted) and recent deliveries of every instance. */
export function alertRoutes(app: App, ctx: ServerContext) {
  const log = sqlDeliveryLog(ctx.db);
  app.get(
    "/v1/admin/alerts",
    {
      preHandler: atLeast(ctx, "readonly"),
      schema: {
        tags: ["admin"],
        summary: "Alert sinks and deliveries, newest first (URLs redacted: they embed secrets)",
        security,
        querystring: z.strictObject({
          status: z.enum(DELIVERY_STATUSES).optional(),
          type: z.enum(ALERT_EVENT_TYPES).optional(),
          sink: z.string().min(1).max(64).optional(),
          limit: z.coerce.number().int().min(1).max(500).default(100),
          before: z.iso.datetime().optional().describe("Deliveries last updated before this time (next page)."),
        }),
        response: {
          200: z.object({
            sinks: z.array(z.object({ name: z.string(), type: z.string(), target: z.string(), severity: z.string() })),
            routes: z.array(z.object({ name: z.string(), sinks: z.array(z.string()) })),
            deliveries: z.array(delivery),
          }),
          ...errors(400, 401, 403),
        },
      },
    },
    async (request) => {
      const { before, ...query } = request.query;
      const deliveries = before ? await log.before(before, query) : await log.list(query);
      return { ...describeSinks(ctx.alerts, ctx.config), deliveries: deliveries as never };
    },
  );
}
