import { z } from "zod";
import type { ServerContext } from "../../context.js";
import { IDEMPOTENCY_HEADER, IDEMPOTENCY_PROBLEMS, idempotentCreate } from "../../idempotency.js";
import { route } from "../../openapi/operation.js";
import { PROBLEMS, problem, sendProblem } from "../../problem.js";
import { idParams } from "../../schemas.js";
import { displayPrefix, newToken, randomId, sha256 } from "../../secrets.js";
import type { App } from "../types.js";
import { actorOf } from "./common.js";

const tokenSchema = z.object({
  id: z.string(),
  name: z.string(),
  role: z.enum(["admin", "operator", "readonly", "service"]),
  prefix: z.string(),
  createdAt: z.string(),
});

const TOKEN = {
  id: "tok_9c4e2a7f1b3d5e8a0c6f",
  name: "chat-backend",
  role: "service",
  prefix: "tg_ser_Qm3vX...",
  createdAt: "2026-03-10T12:00:00.000Z",
};

/** Admin and service tokens (admin only): issue (shown once), list, revoke. */
export function tokenRoutes(app: App, ctx: ServerContext) {
  const db = ctx.db.kysely;
  app.get(
    "/v1/admin/tokens",
    route(ctx, {
      id: "listTokens",
      tag: "admin",
      summary: "List active tokens (never the tokens)",
      description:
        "Every active admin-API and service token issued through the API, with its role. Tokens set by environment variables are not listed.",
      access: { minimum: "admin" },
      responses: {
        200: {
          description: "The active tokens.",
          schema: z.object({ tokens: z.array(tokenSchema) }),
          examples: { one: { summary: "One token", value: { tokens: [TOKEN] } } },
        },
      },
      problems: [PROBLEMS.serviceUnavailable],
    }),
    async () => {
      const rows = await db
        .selectFrom("admin_tokens")
        .selectAll()
        .where("revoked_at", "is", null)
        .orderBy("created_at")
        .execute();
      return {
        tokens: rows.map((r) => ({
          id: r.id,
          name: r.name,
          role: r.role,
          prefix: r.prefix,
          createdAt: new Date(r.created_at).toISOString(),
        })),
      };
    },
  );
  app.post(
    "/v1/admin/tokens",
    route(ctx, {
      id: "createToken",
      tag: "admin",
      summary: "Issue a token for a person or a service",
      description:
        "Issues a bearer token with a role: `service` calls the decision API; `admin`, `operator`, `readonly` call the admin API. The token is in this response only (stored as a SHA-256 hash). Send an `Idempotency-Key` header (a UUID) to make retries safe: a retry with the same key and body answers the first result (with `Idempotent-Replayed: true`) instead of issuing a second token. Audited.",
      access: { minimum: "admin" },
      request: {
        headers: IDEMPOTENCY_HEADER,
        body: z.strictObject({
          name: z.string().min(1).max(128).describe("Who or what uses it (shown in the audit log)."),
          role: z.enum(["admin", "operator", "readonly", "service"]),
        }),
      },
      bodyExamples: {
        service: { summary: "A token for the chat backend", value: { name: "chat-backend", role: "service" } },
      },
      responses: {
        201: {
          description: "Issued; `token` is shown only here.",
          schema: tokenSchema.extend({ token: z.string() }),
          headers: ["Idempotent-Replayed"],
          examples: {
            issued: {
              summary: "The new token",
              value: { ...TOKEN, token: "tg_ser_Qm3vX8kL2pN7rT1wY5zB9cD4fG6hJ0aS2eU8iO3qW5" },
            },
          },
        },
      },
      problems: IDEMPOTENCY_PROBLEMS,
    }),
    async (request, reply) => {
      const { name, role } = request.body;
      return idempotentCreate(ctx, request, reply, "token.create", async (file) => {
        const id = randomId("tok");
        const token = newToken(role);
        const createdAt = new Date();
        const created = { id, name, role, prefix: displayPrefix(token), createdAt: createdAt.toISOString(), token };
        await ctx.catalog.change(
          { actor: actorOf(request), action: "token.create", target: `token:${id}`, detail: { name, role } },
          async (trx) => {
            await trx
              .insertInto("admin_tokens")
              .values({
                id,
                user_id: null,
                name,
                role,
                prefix: displayPrefix(token),
                token_hash: sha256(token),
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
    "/v1/admin/tokens/:id",
    route(ctx, {
      id: "revokeToken",
      tag: "admin",
      summary: "Revoke a token",
      description: "Revokes an issued token at once on every instance. Audited.",
      access: { minimum: "admin" },
      request: { params: idParams },
      parameterExamples: { id: TOKEN.id },
      responses: { 204: { description: "Revoked." } },
      problems: [PROBLEMS.notFound, PROBLEMS.serviceUnavailable],
    }),
    async (request, reply) => {
      const { id } = request.params;
      // Nothing to revoke is a 404 that writes nothing: the transaction (and its audit entry)
      // is rolled back by throwing before it commits.
      const nothing = new Error("no active token");
      try {
        await ctx.catalog.change(
          { actor: actorOf(request), action: "token.revoke", target: `token:${id}` },
          async (trx) => {
            const result = await trx
              .updateTable("admin_tokens")
              .set({ revoked_at: new Date() })
              .where("id", "=", id)
              .where("revoked_at", "is", null)
              .executeTakeFirst();
            if (Number(result.numUpdatedRows) === 0) throw nothing;
          },
        );
      } catch (error) {
        if (error !== nothing) throw error;
        return sendProblem(reply, problem(PROBLEMS.notFound, `No active token with id "${id}".`, { field: "id" }));
      }
      return reply.code(204).send();
    },
  );
}
