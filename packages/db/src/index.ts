/**
 * @tollgate/db: the SQL catalog (plans, categories, API keys, admin users and tokens, audit log)
 * and the usage ledger, on embedded PGlite or a Postgres server, with migrations run at open.
 *
 * @example
 * import { openDb } from "@tollgate/db";
 * const db = await openDb({ url: process.env.TOLLGATE_DATABASE_URL });
 * console.log(db.kind, db.applied);
 */

export { createLedger, type Ledger, type LedgerOptions, type LedgerStats } from "./ledger.js";
export { migrationProvider, migrations } from "./migrations.js";
export { type Db, type DbTimeouts, isDatabaseUnavailable, migrate, type OpenOptions, openDb } from "./open.js";
export {
  type ExportRow,
  exportRowId,
  type HistoryPoint,
  LedgerReports,
  type NearLimitEntry,
  type NearLimitQuery,
  type SummaryEntry,
  type TopEntry,
} from "./reports.js";
export type {
  AdminTokenTable,
  AdminUserTable,
  AlertDeliveryTable,
  ApiKeyTable,
  AuditTable,
  CategoryTable,
  Database,
  IdempotencyTable,
  KeyStatus,
  MetaTable,
  PlanTable,
  Role,
  UsageBatchTable,
  UsageDailyTable,
  UsageHourlyTable,
  UsageMonthlyTable,
  UsagePeriodTable,
} from "./schema.js";
