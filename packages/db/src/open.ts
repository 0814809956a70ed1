import { mkdirSync } from "node:fs";
import { Kysely, Migrator, PostgresDialect, sql } from "kysely";
import { migrationProvider } from "./migrations.js";
import { createPGlite, initDataDirInChild } from "./pglite.js";
import type { Database } from "./schema.js";

/** Where the catalog lives: a Postgres URL, or a directory for embedded PGlite (`memory://` for tests). */
export interface OpenOptions {
  /** `postgres://...`: a Postgres server through a `pg` pool. */
  url?: string;
  /** Embedded PGlite data directory (default `./.tollgate/pglite`), or `memory://` for an in-memory database. */
  dir?: string;
  /** Pool size for Postgres (default 10). */
  poolSize?: number;
  /** Postgres time limits; a database that stalls then fails the call instead of hanging it. */
  timeouts?: DbTimeouts;
}

/**
 * Time limits on Postgres calls, in ms. `statementMs` is enforced by the server
 * (`statement_timeout`, also `idle_in_transaction_session_timeout`); `queryMs` by the client,
 * for a server that cannot answer at all (stopped, frozen, cut off): the connection is then
 * closed, so a transaction cut short can never commit later. PGlite runs in-process and has none.
 */
export interface DbTimeouts {
  /** Opening a connection. Default 5,000. */
  connectMs?: number;
  /** One SQL statement, on the server. Default 5,000. */
  statementMs?: number;
  /** One round trip, on the client. Default statementMs + 1,000. */
  queryMs?: number;
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

/**
 * pg answers a client-side query timeout but leaves the statement running on its connection:
 * a frozen server that wakes up would still run it, and commit an autocommitted write the
 * caller was told failed. Closing the connection makes the server drop the session (and roll
 * back its open transaction) instead.
 */
function closeOnReadTimeout(client: import("pg").PoolClient) {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as { query: unknown }).query = (...args: unknown[]) => {
    const result = query(...args);
    if (result instanceof Promise) {
      result.catch((error: unknown) => {
        if (error instanceof Error && error.message === "Query read timeout") {
          (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
        }
      });
    }
    return result;
  };
}

const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "57014", // query_canceled: statement_timeout
  "55P03", // lock_not_available
  "53300", // too_many_connections
  "25P03", // idle_in_transaction_session_timeout
]);
const UNAVAILABLE_MESSAGES = [
  "Connection terminated",
  "timeout exceeded when trying to connect",
  "Query read timeout",
  "Client has encountered a connection error",
  "Cannot use a pool after calling end",
];

/**
 * Did this error come from the database being unreachable, stalled or shutting down (as opposed
 * to a bad statement)? The server answers those with 503 and Retry-After, never 500.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && (UNAVAILABLE_CODES.has(code) || code.startsWith("08"))) return true;
  if (UNAVAILABLE_MESSAGES.some((m) => error.message.includes(m))) return true;
  if (error instanceof AggregateError) return error.errors.some(isDatabaseUnavailable);
  return error.cause !== undefined && error.cause !== error && isDatabaseUnavailable(error.cause);
}

/** Applies every pending migration; throws with the failing migration's name. */
export async function migrate(kysely: Kysely<Database>): Promise<string[]> {
  const migrator = new Migrator({
    db: kysely,
    provider: migrationProvider,
    migrationTableName: "tollgate_migrations",
    // Migrations from parallel branches may land in any order; each one stands alone.
    allowUnorderedMigrations: true,
  });
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
    const statementMs = options.timeouts?.statementMs ?? 5_000;
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: options.timeouts?.connectMs ?? 5_000,
      statement_timeout: statementMs,
      idle_in_transaction_session_timeout: statementMs * 2,
      query_timeout: options.timeouts?.queryMs ?? statementMs + 1_000,
    });
    // A dropped idle connection must not crash the process; the next query reconnects.
    pool.on("error", () => {});
    pool.on("connect", (client) => {
      // pg-pool listens for errors only on idle clients: a checked-out one (between a
      // transaction's statements) whose server goes away would emit an unhandled 'error' and
      // crash the process. The statement in flight still fails, and the pool drops the client.
      client.on("error", () => {});
      closeOnReadTimeout(client);
    });
    kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    kind = "postgres";
  } else {
    const { PGliteDialect } = await import("kysely-pglite-dialect");
    const dir = options.dir ?? "./.tollgate/pglite";
    if (!dir.startsWith("memory://")) {
      mkdirSync(dir, { recursive: true });
      await initDataDirInChild(dir);
    }
    const pglite = await createPGlite(dir);
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
