import type { ColumnType, Generated } from "kysely";

/** JSON columns are stored as `jsonb`; Kysely sees them as the decoded value. */
type Json<T> = ColumnType<T, string, string>;
type Timestamp = ColumnType<Date, Date | string, Date | string>;

/** Key/value settings shared by every instance (catalog version, decision signing secret). */
export interface MetaTable {
  key: string;
  value: string;
}

/** A plan: named limits a subject is on. `seed_hash` remembers which config-file version seeded it. */
export interface PlanTable {
  name: string;
  limits: Json<unknown[]>;
  seed_hash: string | null;
  updated_at: Timestamp;
}

export interface CategoryTable {
  name: string;
  limits: Json<unknown[]>;
  required_scope: string | null;
  seed_hash: string | null;
  updated_at: Timestamp;
}

export type KeyStatus = "active" | "revoked";

/** An API key. Only the SHA-256 of the secret is stored; `prefix` is shown to people to tell keys apart. */
export interface ApiKeyTable {
  id: string;
  name: string | null;
  prefix: string;
  secret_hash: string;
  owner: string;
  plan: string;
  scopes: Json<string[]>;
  status: KeyStatus;
  expires_at: Timestamp | null;
  /** Limits replacing (same name) or adding to the plan's for this key only. */
  overrides: Json<unknown[]>;
  created_at: Timestamp;
  revoked_at: Timestamp | null;
}

export type Role = "admin" | "operator" | "readonly" | "service";

/** A person (or system) administering Tollgate. */
export interface AdminUserTable {
  id: string;
  name: string;
  role: Role;
  created_at: Timestamp;
}

/** A bearer token. Hashed like API keys; the role is the token's (a user may hold several). */
export interface AdminTokenTable {
  id: string;
  user_id: string | null;
  name: string;
  role: Role;
  prefix: string;
  token_hash: string;
  created_at: Timestamp;
  revoked_at: Timestamp | null;
}

/** Every admin change: who, what, on what, with which (secret-free) details. */
export interface AuditTable {
  id: Generated<number>;
  at: Timestamp;
  actor: string;
  action: string;
  target: string;
  detail: Json<Record<string, unknown>>;
}

/** Usage of one counter by one subject in one hour (split at a quota period's start), category and plan. */
export interface UsageHourlyTable {
  subject: string;
  counter: string;
  bucket: Timestamp;
  /** '' when the request had none. */
  category: string;
  /** '' when the request had none. */
  plan: string;
  limit_name: string;
  unit: string;
  quantity: ColumnType<string, number | string, number | string>;
  updated_at: Generated<Timestamp>;
}

/** Usage of one counter by one subject in one counter period (the quota's period, else the UTC month). */
export interface UsagePeriodTable {
  counter: string;
  period_start: Timestamp;
  subject: string;
  period_end: Timestamp;
  limit_name: string;
  unit: string;
  /** The plan of the latest usage in the period. */
  plan: string;
  quantity: ColumnType<string, number | string, number | string>;
  updated_at: Generated<Timestamp>;
}

/** Ledger batches applied (idempotency of retried writes). */
export interface UsageBatchTable {
  id: string;
  deltas: number;
  applied_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface Database {
  tollgate_meta: MetaTable;
  plans: PlanTable;
  categories: CategoryTable;
  api_keys: ApiKeyTable;
  admin_users: AdminUserTable;
  admin_tokens: AdminTokenTable;
  audit_log: AuditTable;
  usage_hourly: UsageHourlyTable;
  usage_periods: UsagePeriodTable;
  usage_batches: UsageBatchTable;
}
