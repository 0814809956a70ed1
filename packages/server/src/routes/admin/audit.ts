import { z } from "zod";
import type { ServerContext } from "../../context.js";
import { errors } from "../../schemas.js";
import type { App } from "../types.js";
import { atLeast, security } from "./common.js";

/** GET /v1/admin/audit (admin): every admin change, newest first, paged by id. */
export function auditRoutes(app: App, ctx: ServerContext) {
  app.get(
    "/v1/admin/audit",
    {
      preHandler: atLeast(ctx, "admin"),
      schema: {
        tags: ["admin"],
        summary: "Audit log of admin changes",
        security,
        querystring: z.strictObject({
          limit: z.coerce.number().int().min(1).max(500).default(100),
          before: z.coerce.number().int().min(1).optional().describe("Entries with a smaller id (next page)."),
        }),
        response: {
          200: z.object({
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
          ...errors(400, 401, 403),
        },
      },
    },
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
