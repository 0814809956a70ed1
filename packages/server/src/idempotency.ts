import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";
import type { Database } from "@tollgate/db";
import type { FastifyReply, FastifyRequest } from "fastify";
import { type Kysely, sql } from "kysely";
import { z } from "zod";
import type { ServerContext } from "./context.js";
import { PROBLEM_CONTENT_TYPE, PROBLEMS, type Problem, problem, sendProblem } from "./problem.js";
import { sha256 } from "./secrets.js";

/** The header of an admin create, as the request schema declares it (validated further by idempotencyOf). */
export const IDEMPOTENCY_HEADER = z.looseObject({
  "idempotency-key": z
    .string()
    .max(255)
    .optional()
    .describe("A unique value per create (a UUID): a retry with the same key and body answers the first result."),
});

/** What an idempotent create can answer besides its own problems (and 503 when the database is down). */
export const IDEMPOTENCY_PROBLEMS = [
  PROBLEMS.idempotencyKeyReused,
  PROBLEMS.idempotencyInProgress,
  PROBLEMS.serviceUnavailable,
];

/** How long a create's first answer is kept for retries. */
const KEEP_HOURS = 24;
/** Printable ASCII, as the Idempotency-Key header draft expects of a client-made unique value. */
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** A create sent with an Idempotency-Key: where its first answer is filed and how it is sealed. */
export interface IdempotentCreate {
  keyHash: string;
  requestHash: string;
  /** AES-256 key derived from the Idempotency-Key (never stored) and the server's secret. */
  cipherKey: Buffer;
}

/**
 * Reads the `Idempotency-Key` header of an admin create. Undefined without one; a 400 problem
 * when it is malformed. The key is scoped to the caller and the operation.
 */
export function idempotencyOf(
  ctx: ServerContext,
  request: FastifyRequest,
  operation: string,
): IdempotentCreate | Problem | undefined {
  const header = request.headers["idempotency-key"];
  if (header === undefined) return undefined;
  if (typeof header !== "string" || !KEY_PATTERN.test(header)) {
    return problem(
      PROBLEMS.validationFailed,
      "Idempotency-Key: must be 1-255 printable ASCII characters (a UUID is a good choice).",
      {
        field: "Idempotency-Key",
      },
    );
  }
  const actor = (request as { principal?: { id: string } }).principal?.id ?? "unknown";
  const scope = `${actor}\u0000${operation}\u0000${header}`;
  return {
    keyHash: sha256(scope),
    requestHash: sha256(JSON.stringify(request.body ?? null)),
    cipherKey: createHmac("sha256", ctx.decisionSecrets[0] as string)
      .update(`idempotency\u0000${scope}`)
      .digest(),
  };
}

function seal(key: Buffer, body: unknown): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const data = Buffer.concat([cipher.update(JSON.stringify(body), "utf8"), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), data]).toString("base64");
}

function open(key: Buffer, sealed: string): unknown {
  const raw = Buffer.from(sealed, "base64");
  const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  return JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8"));
}

/**
 * Answers a retried create with its first answer (and `Idempotent-Replayed: true`), or a 422
 * when the key was used with another body. Undefined when this key is new.
 */
export async function replay(
  ctx: ServerContext,
  created: IdempotentCreate,
  reply: FastifyReply,
): Promise<FastifyReply | undefined> {
  const row = await ctx.db.kysely
    .selectFrom("idempotency_keys")
    .select(["request_hash", "status", "body"])
    .where("key_hash", "=", created.keyHash)
    .where("created_at", ">", sql<Date>`now() - make_interval(hours => ${KEEP_HOURS})`)
    .executeTakeFirst();
  if (row === undefined) return undefined;
  if (row.request_hash !== created.requestHash) {
    return reply
      .code(422)
      .type(PROBLEM_CONTENT_TYPE)
      .send(
        problem(
          PROBLEMS.idempotencyKeyReused,
          "Idempotency-Key: already used for a different request body. Use a new key for a new create.",
          {
            field: "Idempotency-Key",
          },
        ),
      );
  }
  return reply.code(row.status).header("idempotent-replayed", "true").send(open(created.cipherKey, row.body));
}

/** Files a create's answer in the create's own transaction: both are kept, or neither. */
export async function remember(
  trx: Kysely<Database>,
  created: IdempotentCreate,
  status: number,
  body: unknown,
): Promise<void> {
  await trx
    .deleteFrom("idempotency_keys")
    .where("created_at", "<", sql<Date>`now() - make_interval(hours => ${KEEP_HOURS})`)
    .execute();
  await trx
    .insertInto("idempotency_keys")
    .values({
      key_hash: created.keyHash,
      request_hash: created.requestHash,
      status,
      body: seal(created.cipherKey, body),
    })
    .execute();
}

/** A concurrent create with the same key won the race (unique violation on the key). */
export function isDuplicateKey(error: unknown): boolean {
  const e = error as { code?: unknown; constraint?: unknown; message?: unknown } | null;
  return (
    e?.code === "23505" &&
    (String(e.constraint ?? "").startsWith("idempotency_keys") || String(e.message ?? "").includes("idempotency_keys"))
  );
}

/** The 409 for a create whose key another request is using right now. */
export const inProgress = () =>
  problem(
    PROBLEMS.idempotencyInProgress,
    "Idempotency-Key: a request with this key is in progress; retry shortly to get its answer.",
    {
      field: "Idempotency-Key",
    },
  );

/** Files a create's answer for retries, inside the create's transaction (a no-op without a key). */
export type FileAnswer = (trx: Kysely<Database>, status: number, body: unknown) => Promise<void>;

/**
 * An admin create under its `Idempotency-Key` header, start to end: a malformed key answers 400; a
 * retry answers the first result (422 when the key came with another body); otherwise `create`
 * runs and calls `file` in its transaction with what it answers; a concurrent request with the same
 * key that committed first is answered with that result, or 409 while it is still running.
 */
export async function idempotentCreate(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  operation: string,
  create: (file: FileAnswer) => Promise<FastifyReply>,
): Promise<FastifyReply> {
  const idempotent = idempotencyOf(ctx, request, operation);
  if (idempotent === undefined) return create(async () => {});
  if ("status" in idempotent) return sendProblem(reply, idempotent);
  const replayed = await replay(ctx, idempotent, reply);
  if (replayed) return replayed;
  try {
    return await create((trx, status, body) => remember(trx, idempotent, status, body));
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
    return (await replay(ctx, idempotent, reply)) ?? sendProblem(reply, inProgress());
  }
}
