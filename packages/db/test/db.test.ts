import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDb } from "@tollgate/db";
import { missing, pgCtlBinary, startPostgres } from "@tollgate/testkit";
import { describe, expect, it } from "vitest";

async function roundTrip(db: Awaited<ReturnType<typeof openDb>>) {
  await db.kysely
    .insertInto("plans")
    .values({
      name: "free",
      limits: JSON.stringify([{ name: "m", limit: 1 }]),
      seed_hash: null,
      updated_at: new Date(),
    })
    .execute();
  const row = await db.kysely.selectFrom("plans").selectAll().where("name", "=", "free").executeTakeFirstOrThrow();
  // jsonb comes back decoded on both drivers.
  expect(row.limits).toEqual([{ name: "m", limit: 1 }]);
  await db.kysely
    .insertInto("audit_log")
    .values({ at: new Date(), actor: "t", action: "a", target: "x", detail: "{}" })
    .execute();
  expect(await db.kysely.selectFrom("audit_log").select("id").execute()).toHaveLength(1);
}

describe("@tollgate/db", () => {
  it("happy: PGlite on disk migrates once, then reopens up to date", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "tollgate-db-")), "pglite");
    const db = await openDb({ dir });
    expect(db.kind).toBe("pglite");
    expect(db.applied).toEqual([
      "0001_catalog",
      "0002_ledger",
      "0003_alert_deliveries",
      "0004_idempotency_keys",
      "0005_alert_outages",
      "0006_ledger_rollups",
    ]);
    await roundTrip(db);
    await db.close();
    const again = await openDb({ dir });
    expect(again.applied).toEqual([]);
    expect(await again.kysely.selectFrom("plans").select("name").execute()).toEqual([{ name: "free" }]);
    await again.close();
  }, 120_000); // two PGlite opens on disk: slow on a busy 2-core machine

  it("happy: the same migrations run on a real Postgres", async () => {
    if (missing(pgCtlBinary, "PostgreSQL 15 (pg_ctl, initdb)")) return;
    const pg = await startPostgres();
    try {
      const db = await openDb({ url: pg.url });
      expect(db.kind).toBe("postgres");
      expect(db.applied).toEqual([
        "0001_catalog",
        "0002_ledger",
        "0003_alert_deliveries",
        "0004_idempotency_keys",
        "0005_alert_outages",
        "0006_ledger_rollups",
      ]);
      await roundTrip(db);
      await db.ping();
      await db.close();
      const again = await openDb({ url: pg.url });
      expect(again.applied).toEqual([]);
      await again.close();
    } finally {
      await pg.stop();
    }
  });

  it("error: an unreachable Postgres fails with a clear error", async () => {
    await expect(openDb({ url: "postgres://nobody@127.0.0.1:1/none" })).rejects.toThrow(
      /migration|ECONNREFUSED|connect/,
    );
  });
});
