import { type Kysely, type Migration, type MigrationProvider, sql } from "kysely";

/**
 * Every schema change, in order. One SQL dialect (Postgres) serves PGlite and Postgres alike.
 * Never edit a shipped migration: add the next one.
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
  "0002_ledger": {
    async up(db: Kysely<unknown>) {
      // Usage per subject, counter, hour, category and plan (the hour splits where a quota's
      // calendar period starts inside it, so every period sums exactly): history and exports.
      await db.schema
        .createTable("usage_hourly")
        .addColumn("subject", "text", (c) => c.notNull())
        .addColumn("counter", "text", (c) => c.notNull())
        .addColumn("bucket", "timestamptz", (c) => c.notNull())
        .addColumn("category", "text", (c) => c.notNull())
        .addColumn("plan", "text", (c) => c.notNull())
        .addColumn("limit_name", "text", (c) => c.notNull())
        .addColumn("unit", "text", (c) => c.notNull())
        .addColumn("quantity", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
        .addPrimaryKeyConstraint("usage_hourly_pk", ["subject", "counter", "bucket", "category", "plan"])
        .execute();
      await db.schema.createIndex("usage_hourly_bucket").on("usage_hourly").column("bucket").execute();
      // The same usage per subject and counter period (the quota's own calendar period; the UTC
      // month for other limits): quota restores, top consumers, near-limit and summaries.
      await db.schema
        .createTable("usage_periods")
        .addColumn("counter", "text", (c) => c.notNull())
        .addColumn("period_start", "timestamptz", (c) => c.notNull())
        .addColumn("subject", "text", (c) => c.notNull())
        .addColumn("period_end", "timestamptz", (c) => c.notNull())
        .addColumn("limit_name", "text", (c) => c.notNull())
        .addColumn("unit", "text", (c) => c.notNull())
        .addColumn("plan", "text", (c) => c.notNull())
        .addColumn("quantity", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
        .addPrimaryKeyConstraint("usage_periods_pk", ["counter", "period_start", "subject"])
        .execute();
      await db.schema
        .createIndex("usage_periods_level")
        .on("usage_periods")
        .columns(["counter", "period_start", "quantity"])
        .execute();
      await db.schema
        .createIndex("usage_periods_rank")
        .on("usage_periods")
        .columns(["limit_name", "period_start", "quantity"])
        .execute();
      await db.schema.createIndex("usage_periods_end").on("usage_periods").column("period_end").execute();
      // Batches applied: a batch retried after a lost acknowledgement is found here and skipped.
      await db.schema
        .createTable("usage_batches")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("deltas", "integer", (c) => c.notNull())
        .addColumn("applied_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema.createIndex("usage_batches_applied_at").on("usage_batches").column("applied_at").execute();
    },
  },
  "0003_alert_deliveries": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("alert_deliveries")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("event_id", "text", (c) => c.notNull())
        .addColumn("type", "text", (c) => c.notNull())
        .addColumn("subject", "text", (c) => c.notNull())
        .addColumn("sink", "text", (c) => c.notNull())
        .addColumn("sink_type", "text", (c) => c.notNull())
        .addColumn("target", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("attempts", "integer", (c) => c.notNull())
        .addColumn("last_error", "text")
        .addColumn("last_status", "integer")
        .addColumn("next_attempt_at", "timestamptz")
        .addColumn("created_at", "timestamptz", (c) => c.notNull())
        .addColumn("updated_at", "timestamptz", (c) => c.notNull())
        .addColumn("event", "jsonb", (c) => c.notNull())
        .execute();
      // Listing is newest first, optionally filtered: one index on the order serves it (each DDL
      // statement costs start-up time on embedded PGlite).
      await db.schema.createIndex("alert_deliveries_updated").on("alert_deliveries").column("updated_at").execute();
    },
  },
  "0004_idempotency_keys": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("idempotency_keys")
        .addColumn("key_hash", "text", (c) => c.primaryKey())
        .addColumn("request_hash", "text", (c) => c.notNull())
        .addColumn("status", "integer", (c) => c.notNull())
        .addColumn("body", "text", (c) => c.notNull())
        .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      // No index on created_at: expired rows are swept on the rare admin create, and each DDL
      // statement costs start-up time on embedded PGlite.
    },
  },
  "0005_alert_outages": {
    async up(db: Kysely<unknown>) {
      // One row per counter store: its outage open (closed_at null) or the last one, closed.
      // Instances agree through it that an outage is reported once (the store itself is down).
      await db.schema
        .createTable("alert_outages")
        .addColumn("subject", "text", (c) => c.primaryKey())
        .addColumn("id", "text", (c) => c.notNull())
        .addColumn("opened_at", "timestamptz", (c) => c.notNull())
        .addColumn("closed_at", "timestamptz")
        .execute();
    },
  },
  "0006_ledger_rollups": {
    async up(db: Kysely<unknown>) {
      // The hourly rows summed per UTC day, upserted in the same statement as them: daily history
      // and exports read one row per day, and reports combine whole days with hourly edges.
      await db.schema
        .createTable("usage_daily")
        .addColumn("day", "timestamptz", (c) => c.notNull())
        .addColumn("subject", "text", (c) => c.notNull())
        .addColumn("limit_name", "text", (c) => c.notNull())
        .addColumn("unit", "text", (c) => c.notNull())
        .addColumn("category", "text", (c) => c.notNull())
        .addColumn("plan", "text", (c) => c.notNull())
        .addColumn("counter", "text", (c) => c.notNull())
        .addColumn("quantity", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
        // In export order: an export pages through it with a cursor, one index range at a time.
        .addPrimaryKeyConstraint("usage_daily_pk", [
          "day",
          "subject",
          "limit_name",
          "unit",
          "category",
          "plan",
          "counter",
        ])
        .execute();
      await db.schema.createIndex("usage_daily_subject").on("usage_daily").columns(["subject", "day"]).execute();
      // Per limit, subject and UTC month: the top consumers of a month are the first rows of an index.
      await db.schema
        .createTable("usage_monthly")
        .addColumn("limit_name", "text", (c) => c.notNull())
        .addColumn("month", "timestamptz", (c) => c.notNull())
        .addColumn("subject", "text", (c) => c.notNull())
        .addColumn("unit", "text", (c) => c.notNull())
        .addColumn("plan", "text", (c) => c.notNull())
        .addColumn("quantity", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
        .addPrimaryKeyConstraint("usage_monthly_pk", ["limit_name", "month", "subject", "unit"])
        .execute();
      await db.schema
        .createIndex("usage_monthly_rank")
        .on("usage_monthly")
        .columns(["limit_name", "month", "quantity"])
        .execute();
      await db.schema.createIndex("usage_monthly_month").on("usage_monthly").column("month").execute();
      // Usage written before this migration: its rollups, from the hourly rows.
      await sql`
        insert into usage_daily (day, subject, limit_name, unit, category, plan, counter, quantity)
        select date_trunc('day', bucket, 'UTC'), subject, limit_name, unit, category, plan, counter, sum(quantity)
        from usage_hourly group by 1, 2, 3, 4, 5, 6, 7`.execute(db);
      await sql`
        insert into usage_monthly (limit_name, month, subject, unit, plan, quantity)
        select limit_name, date_trunc('month', bucket, 'UTC'), subject, unit,
          coalesce((array_agg(plan order by bucket desc) filter (where plan <> ''))[1], ''), sum(quantity)
        from usage_hourly group by 1, 2, 3, 4`.execute(db);
    },
  },
};

/** Serves the migrations above to Kysely's Migrator (no files on disk to ship or lose). */
export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
