import { type Kysely, type Migration, type MigrationProvider, sql } from "kysely";

/**
 * Every schema change, in order. One SQL dialect (Postgres) serves PGlite and Postgres alike.
 * Never edit a shipped migration: add the next one (the usage ledger will be `0002_ledger`).
 */
export const migrations: Record<string, Migration> = {
  "0001_catalog": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("tollgate_meta")
        .addColumn("key", "text", (c) => c.primaryKey())
        .addColumn("value", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("plans")
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("limits", "jsonb", (c) => c.notNull())
        .addColumn("seed_hash", "text")
        .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema
        .createTable("categories")
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("limits", "jsonb", (c) => c.notNull())
        .addColumn("required_scope", "text")
        .addColumn("seed_hash", "text")
        .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema
        .createTable("api_keys")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("name", "text")
        .addColumn("prefix", "text", (c) => c.notNull())
        .addColumn("secret_hash", "text", (c) => c.notNull().unique())
        .addColumn("owner", "text", (c) => c.notNull())
        .addColumn("plan", "text", (c) => c.notNull())
        .addColumn("scopes", "jsonb", (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
        .addColumn("status", "text", (c) => c.notNull().defaultTo("active"))
        .addColumn("expires_at", "timestamptz")
        .addColumn("overrides", "jsonb", (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
        .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn("revoked_at", "timestamptz")
        .execute();
      await db.schema.createIndex("api_keys_owner").on("api_keys").column("owner").execute();
      await db.schema
        .createTable("admin_users")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull().unique())
        .addColumn("role", "text", (c) => c.notNull())
        .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema
        .createTable("admin_tokens")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("user_id", "text", (c) => c.references("admin_users.id").onDelete("set null"))
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("role", "text", (c) => c.notNull())
        .addColumn("prefix", "text", (c) => c.notNull())
        .addColumn("token_hash", "text", (c) => c.notNull().unique())
        .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn("revoked_at", "timestamptz")
        .execute();
      await db.schema
        .createTable("audit_log")
        .addColumn("id", "bigserial", (c) => c.primaryKey())
        .addColumn("at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn("actor", "text", (c) => c.notNull())
        .addColumn("action", "text", (c) => c.notNull())
        .addColumn("target", "text", (c) => c.notNull())
        .addColumn("detail", "jsonb", (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
        .execute();
      await db.schema.createIndex("audit_log_at").on("audit_log").column("at").execute();
    },
  },
};

/** Serves the migrations above to Kysely's Migrator (no files on disk to ship or lose). */
export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
