import { mkdirSync } from "node:fs";
import { Kysely, Migrator, PostgresDialect, sql } from "kysely";
import { migrationProvider } from "./migrations.js";
import type { Database } from "./schema.js";

/** Where the catalog lives: a Postgres URL, or a directory for embedded PGlite (`memory://` for tests). */
export interface OpenOptions {
  /** `postgres://...`: a Postgres server through a `pg` pool. */
  url?: string;
  /** Embedded PGlite data directory (default `./.tollgate/pglite`), or `memory://` for an in-memory database. */
  dir?: string;
  /** Pool size for Postgres (default 10). */
  poolSize?: number;
}

/** An open catalog database, migrated. */
export interface Db {
  readonly kysely: Kysely<Database>;
  /** `postgres` or `pglite`, for logs and /readyz. */
  readonly kind: "postgres" | "pglite";
  /** Names of the migrations this open applied (empty when already up to date). */
  readonly applied: string[];
  /** Round trip to the database; throws when unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Applies every pending migration; throws with the failing migration's name. */
export async function migrate(kysely: Kysely<Database>): Promise<string[]> {
  const migrator = new Migrator({ db: kysely, provider: migrationProvider, migrationTableName: "tollgate_migrations" });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === "Error");
  if (error) {
    const cause = error instanceof Error ? error.message : String(error);
    throw new Error(`database migration ${failed?.migrationName ?? ""} failed: ${cause}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}

/**
 * Opens (and migrates) the catalog: Postgres when `url` is given, embedded PGlite otherwise.
 *
 * @example
 * const db = await openDb({ dir: "./.tollgate/pglite" });
 * const plans = await db.kysely.selectFrom("plans").selectAll().execute();
 * await db.close();
 */
export async function openDb(options: OpenOptions = {}): Promise<Db> {
  let kysely: Kysely<Database>;
  let kind: Db["kind"];
  if (options.url) {
    // Imported lazily so the embedded default never loads pg, and vice versa.
    const pg = (await import("pg")).default;
    const pool = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? 10 });
    // A dropped idle connection must not crash the process; the next query reconnects.
    pool.on("error", () => {});
    kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    kind = "postgres";
  } else {
    const { PGlite } = await import("@electric-sql/pglite");
    const { PGliteDialect } = await import("kysely-pglite-dialect");
    const dir = options.dir ?? "./.tollgate/pglite";
    if (!dir.startsWith("memory://")) mkdirSync(dir, { recursive: true });
    const pglite = new PGlite(dir);
    await pglite.waitReady;
    kysely = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
    kind = "pglite";
  }
  let applied: string[];
  try {
    applied = await migrate(kysely);
  } catch (error) {
    await kysely.destroy().catch(() => {});
    throw error;
  }
  return {
    kysely,
    kind,
    applied,
    async ping() {
      await sql`select 1`.execute(kysely);
    },
    close: () => kysely.destroy(),
  };
}
