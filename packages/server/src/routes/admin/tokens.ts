import { z } from "zod";
import type { ServerContext } from "../../context.js";
import { idempotencyOf, inProgress, isDuplicateKey, remember, replay } from "../../idempotency.js";
import { problem, sendProblem } from "../../problem.js";
import { errors, idParams } from "../../schemas.js";
import { displayPrefix, newToken, randomId, sha256 } from "../../secrets.js";
import type { App } from "../types.js";
import { actorOf, atLeast, security } from "./common.js";

const tokenSchema = z.object({
  id: z.string(),
  name: z.string(),
  role: z.enum(["admin", "operator", "readonly", "service"]),
  prefix: z.string(),
  createdAt: z.string(),
});

/** Admin and service tokens (admin only): issue (shown once), list, revoke. */
export function tokenRoutes(app: App, ctx: ServerContext) {
  const db = ctx.db.kysely;
  app.get(
    "/v1/admin/tokens",
    {
      preHandler: atLeast(ctx, "admin"),
      schema: {
        tags: ["admin"],
        summary: "List active tokens (never the tokens)",
        security,
        response: { 200: z.object({ tokens: z.array(tokenSchema) }), ...errors(401, 403) },
      },
    },
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
    {
      preHandler: atLeast(ctx, "admin"),
      schema: {
        tags: ["admin"],
        summary: "Issue a token for a person or service; the token is in this response only",
        description:
          "Send an `Idempotency-Key` header (a UUID) to make retries safe: a retry with the same key and body " +
          "answers the first result (with `Idempotent-Replayed: true`) instead of issuing a second token.",
        security,
        headers: z.looseObject({ "idempotency-key": z.string().max(255).optional() }),
        body: z.strictObject({
          name: z.string().min(1).max(128),
          role: z.enum(["admin", "operator", "readonly", "service"]),
        }),
        response: { 201: tokenSchema.extend({ token: z.string() }), ...errors(400, 401, 403, 409, 422, 503) },
      },
    },
    async (request, reply) => {
      const { name, role } = request.body;
      const idempotent = idempotencyOf(ctx, request, "token.create");
      if (idempotent && "status" in idempotent) return sendProblem(reply, idempotent);
      if (idempotent) {
        const replayed = await replay(ctx, idempotent, reply);
        if (replayed) return replayed;
      }
      const id = randomId("tok");
      const token = newToken(role);
      const createdAt = new Date();
      const created = { id, name, role, prefix: displayPrefix(token), createdAt: createdAt.toISOString(), token };
      try {
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
    "/v1/admin/tokens/:id",
    {
      preHandler: atLeast(ctx, "admin"),
      schema: {
        tags: ["admin"],
        summary: "Revoke a token",
        security,
        params: idParams,
        response: { 204: z.null(), ...errors(401, 403, 404) },
      },
    },
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
        return sendProblem(reply, problem(404, `No active token with id "${id}".`, { field: "id" }));
      }
      return reply.code(204).send(null);
    },
  );
}
