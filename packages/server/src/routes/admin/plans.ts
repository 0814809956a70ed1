import { ConfigError } from "@tollgate/core";
import { z } from "zod";
import type { ServerContext } from "../../context.js";
import { sendProblem } from "../../problem.js";
import { errors, limitSpecSchema, nameParams } from "../../schemas.js";
import type { App } from "../types.js";
import { actorOf, atLeast, configProblem, security } from "./common.js";

const planSchema = z.object({ name: z.string(), limits: z.array(limitSpecSchema), updatedAt: z.string() });
const categorySchema = planSchema.extend({ requiredScope: z.string().nullable() });

/**
 * Plans and categories: everyone with a token reads, admins write. A write is validated by
 * the library's own rules against the whole catalog, then applies to the next decision here
 * and, through the version poll, on every instance.
 */
export function planRoutes(app: App, ctx: ServerContext) {
  const { catalog } = ctx;
  app.get(
    "/v1/admin/plans",
    {
      preHandler: atLeast(ctx, "readonly"),
      schema: {
        tags: ["admin"],
        summary: "List plans",
        security,
        response: { 200: z.object({ plans: z.array(planSchema) }), ...errors(401, 403) },
      },
    },
    async () => ({ plans: [...catalog.plans].map(([name, p]) => ({ name, ...p })) as never }),
  );
  app.put(
    "/v1/admin/plans/:name",
    {
      preHandler: atLeast(ctx, "admin"),
      schema: {
        tags: ["admin"],
        summary: "Create or replace a plan (admin)",
        security,
        params: nameParams,
        body: z.strictObject({ limits: z.array(limitSpecSchema).max(100) }),
        response: { 200: planSchema, ...errors(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const { name } = request.params;
      const { limits } = request.body;
      try {
        catalog.validate((config) => {
          config.plans = { ...config.plans, [name]: { limits: limits as never } };
        });
      } catch (error) {
        if (error instanceof ConfigError) return sendProblem(reply, configProblem(error, ""));
        throw error;
      }
      const updatedAt = new Date();
      await catalog.change(
        { actor: actorOf(request), action: "plan.put", target: `plan:${name}`, detail: { limits } },
        (trx) =>
          trx
            .insertInto("plans")
            .values({ name, limits: JSON.stringify(limits), seed_hash: null, updated_at: updatedAt })
            .onConflict((oc) =>
              oc.column("name").doUpdateSet({ limits: JSON.stringify(limits), updated_at: updatedAt }),
            )
            .execute(),
      );
      return { name, limits, updatedAt: updatedAt.toISOString() } as never;
    },
  );
  app.get(
    "/v1/admin/categories",
    {
      preHandler: atLeast(ctx, "readonly"),
      schema: {
        tags: ["admin"],
        summary: "List categories",
        security,
        response: { 200: z.object({ categories: z.array(categorySchema) }), ...errors(401, 403) },
      },
    },
    async () => ({ categories: [...catalog.categories].map(([name, c]) => ({ name, ...c })) as never }),
  );
  app.put(
    "/v1/admin/categories/:name",
    {
      preHandler: atLeast(ctx, "admin"),
      schema: {
        tags: ["admin"],
        summary: "Create or replace a category (admin)",
        security,
        params: nameParams,
        body: z.strictObject({
          limits: z.array(limitSpecSchema).max(100),
          requiredScope: z.string().min(1).max(64).nullable().optional(),
        }),
        response: { 200: categorySchema, ...errors(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const { name } = request.params;
      const { limits } = request.body;
      const requiredScope = request.body.requiredScope ?? null;
      try {
        catalog.validate((config) => {
          config.categories = {
            ...config.categories,
            [name]: { limits: limits as never, ...(requiredScope ? { requiredScope } : {}) },
          };
        });
      } catch (error) {
        if (error instanceof ConfigError) return sendProblem(reply, configProblem(error, ""));
        throw error;
      }
      const updatedAt = new Date();
      const row = { limits: JSON.stringify(limits), required_scope: requiredScope, updated_at: updatedAt };
      await catalog.change(
        {
          actor: actorOf(request),
          action: "category.put",
          target: `category:${name}`,
          detail: { limits, requiredScope },
        },
        (trx) =>
          trx
            .insertInto("categories")
            .values({ name, seed_hash: null, ...row })
            .onConflict((oc) => oc.column("name").doUpdateSet(row))
            .execute(),
      );
      return { name, limits, requiredScope, updatedAt: updatedAt.toISOString() } as never;
    },
  );
}
