import { ConfigError } from "@tollgate/core";
import { z } from "zod";
import { type KeyRecord, mergeOverrides, overridePlanName } from "../../catalog.js";
import type { ServerContext } from "../../context.js";
import { idempotencyOf, inProgress, isDuplicateKey, remember, replay } from "../../idempotency.js";
import { problem, sendProblem } from "../../problem.js";
import { errors, idParams, limitSpecSchema } from "../../schemas.js";
import { displayPrefix, newApiKeySecret, randomId, sha256 } from "../../secrets.js";
import type { App } from "../types.js";
import { actorOf, atLeast, configProblem, security } from "./common.js";

const keySchema = z
  .object({
    id: z.string(),
    name: z.string().nullable(),
    prefix: z.string().describe("The first characters of the secret, to tell keys apart."),
    owner: z.string(),
    plan: z.string(),
    scopes: z.array(z.string()),
    status: z.enum(["active", "revoked", "expired"]),
    expiresAt: z.string().nullable(),
    overrides: z.array(limitSpecSchema),
    createdAt: z.string(),
  })
  .meta({ id: "ApiKey" });

const createdSchema = keySchema.extend({ secret: z.string().describe("Shown once; stored only as a SHA-256 hash.") });

const ownerSchema = z
  .string()
  .max(256)
  .regex(/^(user|org|project):.+$/, 'an owner such as "org:acme", "user:u-42" or "project:p1"');

function view(ctx: ServerContext, key: KeyRecord) {
  const expired = key.expiresAt !== null && key.expiresAt <= ctx.clock.now();
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    owner: key.owner,
    plan: key.plan,
    scopes: key.scopes,
    status: key.status === "active" && expired ? ("expired" as const) : key.status,
    expiresAt: key.expiresAt === null ? null : new Date(key.expiresAt).toISOString(),
    overrides: key.overrides as never,
    createdAt: key.createdAt,
  };
}

/** API keys: list (readonly), create / revoke / rotate / overrides (operator and admin). */
export function keyRoutes(app: App, ctx: ServerContext) {
  const { catalog } = ctx;
  const notFound = (id: string) =>
    problem(404, `No API key with id "${id}". List keys with GET /v1/admin/keys.`, { field: "id" });

  app.get(
    "/v1/admin/keys",
    {
      preHandler: atLeast(ctx, "readonly"),
      schema: {
        tags: ["admin"],
        summary: "List API keys (never their secrets)",
        security,
        querystring: z.strictObject({ owner: z.string().max(256).optional(), plan: z.string().max(64).optional() }),
        response: { 200: z.object({ keys: z.array(keySchema) }), ...errors(400, 401, 403) },
      },
    },
    async (request) => {
      const { owner, plan } = request.query;
      const keys = [...catalog.keysById.values()].filter(
        (k) => (owner === undefined || k.owner === owner) && (plan === undefined || k.plan === plan),
      );
      return { keys: keys.map((k) => view(ctx, k)) };
    },
  );

  app.get(
    "/v1/admin/keys/:id",
    {
      preHandler: atLeast(ctx, "readonly"),
      schema: {
        tags: ["admin"],
        summary: "One API key",
        security,
        params: idParams,
        response: { 200: keySchema, ...errors(401, 403, 404) },
      },
    },
    async (request, reply) => {
      const key = catalog.keysById.get(request.params.id);
      return key ? view(ctx, key) : sendProblem(reply, notFound(request.params.id));
    },
  );

  app.post(
    "/v1/admin/keys",
    {
      preHandler: atLeast(ctx, "operator"),
      schema: {
        tags: ["admin"],
        summary: "Create an API key; the secret is in this response only",
        description:
          "Send an `Idempotency-Key` header (a UUID) to make retries safe: a retry with the same key and body " +
          "answers the first result (with `Idempotent-Replayed: true`) instead of creating a second key.",
        security,
        headers: z.looseObject({ "idempotency-key": z.string().max(255).optional() }),
        body: z.strictObject({
          owner: ownerSchema,
          plan: z.string().min(1).max(64),
          name: z.string().min(1).max(128).optional(),
          scopes: z.array(z.string().min(1).max(64)).max(32).optional(),
          expiresAt: z.iso.datetime({ offset: true }).optional(),
        }),
        response: { 201: createdSchema, ...errors(400, 401, 403, 409, 422, 503) },
      },
    },
    async (request, reply) => {
      const { owner, plan, name, scopes = [], expiresAt } = request.body;
      const idempotent = idempotencyOf(ctx, request, "key.create");
      if (idempotent && "status" in idempotent) return sendProblem(reply, idempotent);
      if (idempotent) {
        const replayed = await replay(ctx, idempotent, reply);
        if (replayed) return replayed;
      }
      if (!catalog.plans.has(plan)) {
        return sendProblem(
          reply,
          problem(400, `plan: unknown plan "${plan}" (known: ${[...catalog.plans.keys()].join(", ")})`, {
            field: "plan",
          }),
        );
      }
      const id = randomId("key");
      const secret = newApiKeySecret();
      const createdAt = new Date();
      const created = {
        id,
        name: name ?? null,
        prefix: displayPrefix(secret),
        owner,
        plan,
        scopes,
        status: "active" as const,
        expiresAt: expiresAt ? new Date(expiresAt).toISOString() : null,
        overrides: [],
        createdAt: createdAt.toISOString(),
        secret,
      };
      if (expiresAt && new Date(expiresAt).getTime() <= ctx.clock.now())
        (created as { status: string }).status = "expired";
      try {
        await catalog.change(
          {
            actor: actorOf(request),
            action: "key.create",
            target: `key:${id}`,
            detail: { owner, plan, name, scopes, expiresAt },
          },
          async (trx) => {
            await trx
              .insertInto("api_keys")
              .values({
                id,
                name: name ?? null,
                prefix: created.prefix,
                secret_hash: sha256(secret),
                owner,
                plan,
                scopes: JSON.stringify(scopes),
                status: "active",
                expires_at: expiresAt ? new Date(expiresAt) : null,
                overrides: "[]",
                created_at: createdAt,
                revoked_at: null,
              })
              .execute();
            if (idempotent) await remember(trx, idempotent, 201, created);
          },
        );
      } catch (error) {
        if (!idempotent || !isDuplicateKey(error)) throw error;
        return (await replay(ctx, idempotent, reply)) ?? sendProblem(reply, inProgress());
      }
      return reply.code(201).send(created);
    },
  );

  app.delete(
    "/v1/admin/keys/:id",
    {
      preHandler: atLeast(ctx, "operator"),
      schema: {
        tags: ["admin"],
        summary: "Revoke an API key",
        security,
        params: idParams,
        response: { 200: keySchema, ...errors(401, 403, 404) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      if (!catalog.keysById.has(id)) return sendProblem(reply, notFound(id));
      await catalog.change({ actor: actorOf(request), action: "key.revoke", target: `key:${id}` }, (trx) =>
        trx.updateTable("api_keys").set({ status: "revoked", revoked_at: new Date() }).where("id", "=", id).execute(),
      );
      return view(ctx, catalog.keysById.get(id) as KeyRecord);
    },
  );

  app.post(
    "/v1/admin/keys/:id/rotate",
    {
      preHandler: atLeast(ctx, "operator"),
      schema: {
        tags: ["admin"],
        summary: "Replace a key's secret (same id, plan and counters); the old secret stops working at once",
        security,
        params: idParams,
        response: { 200: createdSchema, ...errors(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const key = catalog.keysById.get(id);
      if (!key) return sendProblem(reply, notFound(id));
      if (key.status !== "active")
        return sendProblem(reply, problem(409, "A revoked key cannot be rotated: create a new key."));
      const secret = newApiKeySecret();
      await catalog.change({ actor: actorOf(request), action: "key.rotate", target: `key:${id}` }, (trx) =>
        trx
          .updateTable("api_keys")
          .set({ secret_hash: sha256(secret), prefix: displayPrefix(secret) })
          .where("id", "=", id)
          .execute(),
      );
      return { ...view(ctx, catalog.keysById.get(id) as KeyRecord), secret };
    },
  );

  app.put(
    "/v1/admin/keys/:id/overrides",
    {
      preHandler: atLeast(ctx, "operator"),
      schema: {
        tags: ["admin"],
        summary: "Set a key's limit overrides (same name replaces the plan's limit, new names add; [] clears)",
        security,
        params: idParams,
        body: z.strictObject({ limits: z.array(limitSpecSchema).max(50) }),
        response: { 200: keySchema, ...errors(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const key = catalog.keysById.get(id);
      if (!key) return sendProblem(reply, notFound(id));
      const { limits } = request.body;
      try {
        catalog.validate((config) => {
          config.plans = {
            ...config.plans,
            [overridePlanName(id)]: {
              limits: mergeOverrides(catalog.plans.get(key.plan)?.limits ?? [], limits) as never,
            },
          };
        });
      } catch (error) {
        if (error instanceof ConfigError) return sendProblem(reply, configProblem(error, ""));
        throw error;
      }
      await catalog.change(
        { actor: actorOf(request), action: "key.overrides", target: `key:${id}`, detail: { limits } },
        (trx) =>
          trx
            .updateTable("api_keys")
            .set({ overrides: JSON.stringify(limits) })
            .where("id", "=", id)
            .execute(),
      );
      return view(ctx, catalog.keysById.get(id) as KeyRecord);
    },
  );
}
