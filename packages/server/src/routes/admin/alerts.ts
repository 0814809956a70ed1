import { ALERT_EVENT_TYPES, DELIVERY_STATUSES } from "@tollgate/alerts";
import { z } from "zod";
import { describeSinks, sqlDeliveryLog } from "../../alerting.js";
import type { ServerContext } from "../../context.js";
import { route } from "../../openapi/operation.js";
import { PROBLEMS } from "../../problem.js";
import type { App } from "../types.js";

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
    route(ctx, {
      id: "listAlerts",
      tag: "admin",
      summary: "Alert sinks and deliveries",
      description:
        "The configured alert sinks (URLs redacted to scheme and host: they often embed secrets) and routes, and the deliveries of every instance, newest first, filtered by status, event type or sink. Page with `before`: the `updatedAt` of the last delivery of the previous page.",
      access: { minimum: "readonly" },
      request: {
        querystring: z.strictObject({
          status: z.enum(DELIVERY_STATUSES).optional().describe("Only deliveries in this status."),
          type: z.enum(ALERT_EVENT_TYPES).optional().describe("Only events of this type."),
          sink: z.string().min(1).max(64).optional().describe("Only deliveries to this sink."),
          limit: z.coerce.number().int().min(1).max(500).default(100).describe("Deliveries per page."),
          before: z.iso.datetime().optional().describe("Deliveries last updated before this time (next page)."),
        }),
      },
      parameterExamples: { status: "dead", type: "threshold_crossed", sink: "ops", limit: 50 },
      responses: {
        200: {
          description: "Sinks, routes and a page of deliveries.",
          schema: z.object({
            sinks: z.array(z.object({ name: z.string(), type: z.string(), target: z.string(), severity: z.string() })),
            routes: z.array(z.object({ name: z.string(), sinks: z.array(z.string()) })),
            deliveries: z.array(delivery),
          }),
          examples: {
            dead: {
              summary: "A webhook that gave up after 5 tries",
              value: {
                sinks: [{ name: "ops", type: "webhook", target: "https://hooks.example.net", severity: "warning" }],
                routes: [],
                deliveries: [
                  {
                    id: "dlv_7f3a9c2e1b4d",
                    eventId: "evt_2b8e4f1a9c3d",
                    type: "threshold_crossed",
                    subject: "org:acme",
                    sink: "ops",
                    sinkType: "webhook",
                    target: "https://hooks.example.net",
                    status: "dead",
                    attempts: 5,
                    lastError: "HTTP 502",
                    lastStatus: 502,
                    createdAt: "2026-03-10T12:00:00.000Z",
                    updatedAt: "2026-03-10T12:04:10.000Z",
                    event: { type: "threshold_crossed", limit: "org-minute", subject: "org:acme" },
                  },
                ],
              },
            },
          },
        },
      },
      problems: [PROBLEMS.serviceUnavailable],
    }),
    async (request) => {
      const { before, ...query } = request.query;
      const deliveries = before ? await log.before(before, query) : await log.list(query);
      return { ...describeSinks(ctx.alerts, ctx.config), deliveries: deliveries as never };
    },
  );
}
