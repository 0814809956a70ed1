import { ConfigError } from "@tollgate/core";
import { z } from "zod";
import type { ServerContext } from "../../context.js";
import { route } from "../../openapi/operation.js";
import { PROBLEMS, sendProblem } from "../../problem.js";
import { limitSpecSchema, nameParams } from "../../schemas.js";
import type { App } from "../types.js";
import { actorOf, configProblem } from "./common.js";

const planSchema = z.object({ name: z.string(), limits: z.array(limitSpecSchema), updatedAt: z.string() });
const categorySchema = planSchema.extend({ requiredScope: z.string().nullable() });

const LIMITS = [
  { name: "minute", per: "key", algorithm: "fixed-window", limit: 60, window: "1m" },
  { name: "month", per: "key", algorithm: "quota", limit: 100000, period: "month" },
];
const PLAN = { name: "team", limits: LIMITS, updatedAt: "2026-03-10T12:00:00.000Z" };
const CATEGORY = {
  name: "generate",
  limits: [{ name: "day", per: "user", algorithm: "fixed-window", limit: 5, window: "1d" }],
  requiredScope: "generate",
  updatedAt: "2026-03-10T12:00:00.000Z",
};

/**
 * Plans and categories: everyone with a token reads, admins write. A write is validated by
 * the library's own rules against the whole catalog, then applies to the next decision here
 * and, through the version poll, on every instance.
 */
export function planRoutes(app: App, ctx: ServerContext) {
  const { catalog } = ctx;
  app.get(
    "/v1/admin/plans",
    route(ctx, {
      id: "listPlans",
      tag: "admin",
      summary: "List plans",
      description:
        "Every plan with its limits: those seeded from the configuration file and those written through the API.",
      access: { minimum: "readonly" },
      responses: {
        200: {
          description: "The plans.",
          schema: z.object({ plans: z.array(planSchema) }),
          examples: { one: { summary: "One plan", value: { plans: [PLAN] } } },
        },
      },
    }),
    async () => ({ plans: [...catalog.plans].map(([name, p]) => ({ name, ...p })) as never }),
  );
  app.put(
    "/v1/admin/plans/:name",
    route(ctx, {
      id: "putPlan",
      tag: "admin",
      summary: "Create or replace a plan",
      description:
        "Validates the limits by the library's own rules against the whole catalog (errors name the request's field, e.g. `limits[0].limit`), stores them, and applies them to the next decision on every instance (through the catalog version poll). Counters of unchanged limits carry over. Audited.",
      access: { minimum: "admin" },
      request: { params: nameParams, body: z.strictObject({ limits: z.array(limitSpecSchema).max(100) }) },
      parameterExamples: { name: "team" },
      bodyExamples: { team: { summary: "60 a minute and 100,000 a month per key", value: { limits: LIMITS } } },
      responses: {
        200: {
          description: "The plan as stored.",
          schema: planSchema,
          examples: { team: { summary: "Stored", value: PLAN } },
        },
      },
      problems: [PROBLEMS.serviceUnavailable],
    }),
    async (request, reply) => {
      const { name } = request.params;
      const { limits } = request.body;
      try {
        catalog.validate((config) => {
          config.plans = { ...config.plans, [name]: { limits: limits as never } };
        });
      } catch (error) {
        if (error instanceof ConfigError) return sendProblem(reply, configProblem(error, `plans.${name}`));
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
    route(ctx, {
      id: "listCategories",
      tag: "admin",
      summary: "List categories",
      description: "Every category (a class of endpoints with its own limits and optional required scope).",
      access: { minimum: "readonly" },
      responses: {
        200: {
          description: "The categories.",
          schema: z.object({ categories: z.array(categorySchema) }),
          examples: { one: { summary: "One category", value: { categories: [CATEGORY] } } },
        },
      },
    }),
    async () => ({ categories: [...catalog.categories].map(([name, c]) => ({ name, ...c })) as never }),
  );
  app.put(
    "/v1/admin/categories/:name",
    route(ctx, {
      id: "putCategory",
      tag: "admin",
      summary: "Create or replace a category",
      description:
        "Validates and stores a category's limits and optional `requiredScope` (API keys need that scope to call it), applied to the next decision on every instance. Errors name the request's field (`limits[0].window`). Audited.",
      access: { minimum: "admin" },
      request: {
        params: nameParams,
        body: z.strictObject({
          limits: z.array(limitSpecSchema).max(100),
          requiredScope: z.string().min(1).max(64).nullable().optional(),
        }),
      },
      parameterExamples: { name: "generate" },
      bodyExamples: {
        generate: {
          summary: "5 generations a day per user, for keys with scope generate",
          value: { limits: [CATEGORY.limits[0]], requiredScope: "generate" },
        },
      },
      responses: {
        200: {
          description: "The category as stored.",
          schema: categorySchema,
          examples: { generate: { summary: "Stored", value: CATEGORY } },
        },
      },
      problems: [PROBLEMS.serviceUnavailable],
    }),
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
        if (error instanceof ConfigError) return sendProblem(reply, configProblem(error, `categories.${name}`));
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
