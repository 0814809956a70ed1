import { ConfigError } from "@tollgate/core";
import { z } from "zod";
import { type KeyRecord, mergeOverrides, overridePlanName } from "../../catalog.js";
import type { ServerContext } from "../../context.js";
import { IDEMPOTENCY_HEADER, IDEMPOTENCY_PROBLEMS, idempotentCreate } from "../../idempotency.js";
import { route } from "../../openapi/operation.js";
import { PROBLEMS, problem, sendProblem } from "../../problem.js";
import { idParams, limitSpecSchema } from "../../schemas.js";
import { displayPrefix, newApiKeySecret, randomId, sha256 } from "../../secrets.js";
import type { App } from "../types.js";
import { actorOf, configProblem } from "./common.js";

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

const KEY = {
  id: "key_5f2a9c1e7b3d4a6f8e0c",
  name: "acme production",
  prefix: "tg_live_3Jx9...",
  owner: "org:acme",
  plan: "pro",
  scopes: ["generate"],
  status: "active",
  expiresAt: null,
  overrides: [],
  createdAt: "2026-03-10T12:00:00.000Z",
};
const SECRET = "tg_live_3Jx9qL0vW8sT2mB6nR4yK1pD7fH5cA0eZ9uX3wQ7";

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
    problem(PROBLEMS.notFound, `No API key with id "${id}". List keys with GET /v1/admin/keys.`, { field: "id" });

  app.get(
    "/v1/admin/keys",
    route(ctx, {
      id: "listKeys",
      tag: "admin",
      summary: "List API keys (never their secrets)",
      description:
        "Every API key, optionally only one owner's or one plan's. Secrets are never stored or shown: `prefix` tells keys apart.",
      access: { minimum: "readonly" },
      request: {
        querystring: z.strictObject({
          owner: z.string().max(256).optional().describe('Only this owner\'s keys ("org:acme").'),
          plan: z.string().max(64).optional().describe("Only keys on this plan."),
        }),
      },
      parameterExamples: { owner: "org:acme", plan: "pro" },
      responses: {
        200: {
          description: "The keys.",
          schema: z.object({ keys: z.array(keySchema) }),
          examples: { one: { summary: "One key", value: { keys: [KEY] } } },
        },
      },
    }),
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
    route(ctx, {
      id: "getKey",
      tag: "admin",
      summary: "One API key",
      description: "An API key by id, with its status (`expired` once `expiresAt` has passed) and overrides.",
      access: { minimum: "readonly" },
      request: { params: idParams },
      parameterExamples: { id: KEY.id },
      responses: {
        200: {
          description: "The key.",
          schema: keySchema,
          examples: { key: { summary: "An active key", value: KEY } },
        },
      },
      problems: [PROBLEMS.notFound],
    }),
    async (request, reply) => {
      const key = catalog.keysById.get(request.params.id);
      return key ? view(ctx, key) : sendProblem(reply, notFound(request.params.id));
    },
  );

  app.post(
    "/v1/admin/keys",
    route(ctx, {
      id: "createKey",
      tag: "admin",
      summary: "Create an API key",
      description:
        "Issues a key for an owner on a plan. The secret is in this response only (stored as a SHA-256 hash): hand it to the owner now. Callers present it as `subject.apiKey` on POST /v1/check. Send an `Idempotency-Key` header (a UUID) to make retries safe: a retry with the same key and body answers the first result (with `Idempotent-Replayed: true`) instead of creating a second key. Audited.",
      access: { minimum: "operator" },
      request: {
        headers: IDEMPOTENCY_HEADER,
        body: z.strictObject({
          owner: ownerSchema,
          plan: z.string().min(1).max(64),
          name: z.string().min(1).max(128).optional(),
          scopes: z.array(z.string().min(1).max(64)).max(32).optional(),
          expiresAt: z.iso.datetime({ offset: true }).optional(),
        }),
      },
      bodyExamples: {
        pro: {
          summary: "A pro key for org acme that may call the generate category",
          value: { owner: "org:acme", plan: "pro", name: "acme production", scopes: ["generate"] },
        },
      },
      responses: {
        201: {
          description: "Created; `secret` is shown only here.",
          schema: createdSchema,
          headers: ["Idempotent-Replayed"],
          examples: { created: { summary: "The new key and its secret", value: { ...KEY, secret: SECRET } } },
        },
      },
      problems: IDEMPOTENCY_PROBLEMS,
    }),
    async (request, reply) => {
      const { owner, plan, name, scopes = [], expiresAt } = request.body;
      return idempotentCreate(ctx, request, reply, "key.create", async (file) => {
        if (!catalog.plans.has(plan)) {
          return sendProblem(
            reply,
            problem(
              PROBLEMS.validationFailed,
              `plan: unknown plan "${plan}" (known: ${[...catalog.plans.keys()].join(", ")})`,
              {
                field: "plan",
              },
            ),
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
            await file(trx, 201, created);
          },
        );
        return reply.code(201).send(created);
      });
    },
  );

  app.delete(
    "/v1/admin/keys/:id",
    route(ctx, {
      id: "revokeKey",
      tag: "admin",
      summary: "Revoke an API key",
      description: "Revokes a key at once on every instance; its decisions answer `invalid_key` from then on. Audited.",
      access: { minimum: "operator" },
      request: { params: idParams },
      parameterExamples: { id: KEY.id },
      responses: {
        200: {
          description: "The key, now revoked.",
          schema: keySchema,
          examples: { revoked: { summary: "Revoked", value: { ...KEY, status: "revoked" } } },
        },
      },
      problems: [PROBLEMS.notFound, PROBLEMS.serviceUnavailable],
    }),
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
    route(ctx, {
      id: "rotateKey",
      tag: "admin",
      summary: "Replace a key's secret",
      description:
        "Issues a new secret for the same key (same id, plan, overrides and counters); the old secret stops working at once. The new secret is in this response only. A revoked key cannot be rotated (409). Audited.",
      access: { minimum: "operator" },
      request: { params: idParams },
      parameterExamples: { id: KEY.id },
      responses: {
        200: {
          description: "The key and its new secret, shown only here.",
          schema: createdSchema,
          examples: { rotated: { summary: "New secret", value: { ...KEY, secret: SECRET } } },
        },
      },
      problems: [PROBLEMS.notFound, PROBLEMS.conflict, PROBLEMS.serviceUnavailable],
    }),
    async (request, reply) => {
      const { id } = request.params;
      const key = catalog.keysById.get(id);
      if (!key) return sendProblem(reply, notFound(id));
      if (key.status !== "active")
        return sendProblem(reply, problem(PROBLEMS.conflict, "A revoked key cannot be rotated: create a new key."));
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
    route(ctx, {
      id: "putKeyOverrides",
      tag: "admin",
      summary: "Set a key's limit overrides",
      description:
        "Limits for this key only, on top of its plan: a limit with a plan limit's name replaces it, a new name adds one, `[]` clears all. Validated like a plan (errors name the request's field, `limits[0].limit`). Audited.",
      access: { minimum: "operator" },
      request: { params: idParams, body: z.strictObject({ limits: z.array(limitSpecSchema).max(50) }) },
      parameterExamples: { id: KEY.id },
      bodyExamples: {
        raise: {
          summary: "Raise this key's per-minute limit to 500",
          value: { limits: [{ name: "minute", per: "key", algorithm: "fixed-window", limit: 500, window: "1m" }] },
        },
      },
      responses: {
        200: {
          description: "The key with its new overrides.",
          schema: keySchema,
          examples: {
            raised: {
              summary: "Overridden",
              value: {
                ...KEY,
                overrides: [{ name: "minute", per: "key", algorithm: "fixed-window", limit: 500, window: "1m" }],
              },
            },
          },
        },
      },
      problems: [PROBLEMS.notFound, PROBLEMS.serviceUnavailable],
    }),
    async (request, reply) => {
      const { id } = request.params;
      const key = catalog.keysById.get(id);
      if (!key) return sendProblem(reply, notFound(id));
      const { limits } = request.body;
      const merged = mergeOverrides(catalog.plans.get(key.plan)?.limits ?? [], limits) as { name: string }[];
      try {
        catalog.validate((config) => {
          config.plans = { ...config.plans, [overridePlanName(id)]: { limits: merged as never } };
        });
      } catch (error) {
        if (error instanceof ConfigError) {
          const own = (i: number) => limits.findIndex((limit) => limit.name === merged[i]?.name);
          return sendProblem(reply, configProblem(error, `plans.${overridePlanName(id)}`, own));
        }
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
