import type { Database } from "@tollgate/db";
import type { Kysely } from "kysely";
import { bumpVersion } from "./catalog.js";
import { displayPrefix, newToken, randomId, randomSecret, sha256 } from "./secrets.js";

/** Tokens created on first start, to print once (they are stored hashed, never again readable). */
export interface FirstStart {
  adminToken?: string;
  serviceToken?: string;
}

/**
 * On first start, creates an admin and a service token unless the environment provides them.
 * A row in tollgate_meta claims the bootstrap, so instances starting together create one pair.
 */
export async function bootstrapTokens(
  db: Kysely<Database>,
  provided: { adminToken?: string; serviceToken?: string },
): Promise<FirstStart> {
  const created: FirstStart = {};
  for (const role of ["admin", "service"] as const) {
    if ((role === "admin" ? provided.adminToken : provided.serviceToken) !== undefined) continue;
    await db.transaction().execute(async (trx) => {
      const claimed = await trx
        .insertInto("tollgate_meta")
        .values({ key: `bootstrap.${role}`, value: new Date().toISOString() })
        .onConflict((oc) => oc.column("key").doNothing())
        .returning("key")
        .executeTakeFirst();
      if (!claimed) return;
      const token = newToken(role);
      const userId = randomId("usr");
      await trx
        .insertInto("admin_users")
        .values({ id: userId, name: `bootstrap-${role}`, role, created_at: new Date() })
        .execute();
      await trx
        .insertInto("admin_tokens")
        .values({
          id: randomId("tok"),
          user_id: userId,
          name: `bootstrap-${role}`,
          role,
          prefix: displayPrefix(token),
          token_hash: sha256(token),
          created_at: new Date(),
          revoked_at: null,
        })
        .execute();
      await trx
        .insertInto("audit_log")
        .values({ at: new Date(), actor: "system", action: "token.bootstrap", target: `role:${role}`, detail: "{}" })
        .execute();
      await bumpVersion(trx);
      if (role === "admin") created.adminToken = token;
      else created.serviceToken = token;
    });
  }
  return created;
}

/** The decision-id signing secret shared by every instance: configured, or generated once into the database. */
export async function decisionSecret(db: Kysely<Database>, configured?: string): Promise<string> {
  if (configured) return configured;
  await db
    .insertInto("tollgate_meta")
    .values({ key: "decision_secret", value: randomSecret() })
    .onConflict((oc) => oc.column("key").doNothing())
    .execute();
  const row = await db
    .selectFrom("tollgate_meta")
    .select("value")
    .where("key", "=", "decision_secret")
    .executeTakeFirstOrThrow();
  return row.value;
}
