import { z } from "zod";
import type { ServerContext } from "../../context.js";
import { route } from "../../openapi/operation.js";
import { PROBLEMS } from "../../problem.js";
import type { App } from "../types.js";

/** GET /v1/admin/audit (admin): every admin change, newest first, paged by id. */
export function auditRoutes(app: App, ctx: ServerContext) {
  app.get(
    "/v1/admin/audit",
    route(ctx, {
      id: "listAudit",
      tag: "admin",
      summary: "Audit log of admin changes",
      description:
        "Every change made through the admin API (who, what, when, the change's detail without secrets), newest first. Page with `before`: the smallest `id` of the previous page.",
      access: { minimum: "admin" },
      request: {
        querystring: z.strictObject({
          limit: z.coerce.number().int().min(1).max(500).default(100).describe("Entries per page."),
          before: z.coerce.number().int().min(1).optional().describe("Entries with a smaller id (next page)."),
        }),
      },
      parameterExamples: { limit: 50, before: 1200 },
      responses: {
        200: {
          description: "A page of entries, newest first.",
          schema: z.object({
            entries: z.array(
              z.object({
                id: z.number(),
                at: z.string(),
                actor: z.string(),
                action: z.string(),
                target: z.string(),
                detail: z.record(z.string(), z.unknown()),
              }),
            ),
          }),
          examples: {
            page: {
              summary: "A plan change",
              value: {
                entries: [
                  {
                    id: 1199,
                    at: "2026-03-10T12:00:00.000Z",
                    actor: "admin:env-admin (env-admin)",
                    action: "plan.put",
                    target: "plan:team",
                    detail: {
                      limits: [{ name: "minute", per: "key", algorithm: "fixed-window", limit: 60, window: "1m" }],
                    },
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
      const { limit, before } = request.query;
      let query = ctx.db.kysely.selectFrom("audit_log").selectAll().orderBy("id", "desc").limit(limit);
      if (before !== undefined) query = query.where("id", "<", before);
      const rows = await query.execute();
      return {
        entries: rows.map((r) => ({
          id: Number(r.id),
          at: new Date(r.at).toISOString(),
          actor: r.actor,
          action: r.action,
          target: r.target,
          detail: r.detail,
        })),
      };
    },
  );
}
