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

/**
 * One alert delivery (an event to one sink) across its tries: the server's delivery log. `target`
 * is the sink's URL redacted to scheme and host; no secret is ever stored here.
 */
export interface AlertDeliveryTable {
  id: string;
  event_id: string;
  type: string;
  subject: string;
  sink: string;
  sink_type: string;
  target: string;
  status: string;
  attempts: number;
  last_error: string | null;
  last_status: number | null;
  next_attempt_at: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  event: Json<Record<string, unknown>>;
}

/** A counter store's outage, open (`closed_at` null) or the last one: see the alerts' outage board. */
export interface AlertOutageTable {
  subject: string;
  id: string;
  opened_at: Timestamp;
  closed_at: Timestamp | null;
}

/**
 * The first answer to an admin create sent with an `Idempotency-Key`, written in the same
 * transaction as the create: a retry gets this answer back instead of creating twice. The body
 * holds a secret shown once (an API key, a token), so it is stored encrypted with a key derived
 * from the Idempotency-Key itself, which is never stored.
 */
export interface IdempotencyTable {
  /** SHA-256 of actor, operation and Idempotency-Key. */
  key_hash: string;
  /** SHA-256 of the request body: the same key with another body is refused. */
  request_hash: string;
  status: number;
  /** AES-256-GCM of the response body, base64 (iv, tag, ciphertext). */
  body: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
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

/**
 * Usage of one counter by one subject on one UTC day, category and plan: the hourly rows summed,
 * kept longer than them (daily history, exports, whole days of a report's range).
 */
export interface UsageDailyTable {
  day: Timestamp;
  subject: string;
  limit_name: string;
  unit: string;
  category: string;
  plan: string;
  counter: string;
  quantity: ColumnType<string, number | string, number | string>;
  updated_at: Generated<Timestamp>;
}

/** Usage of one limit by one subject in one UTC month (all categories and counters): top consumers, summaries. */
export interface UsageMonthlyTable {
  limit_name: string;
  month: Timestamp;
  subject: string;
  unit: string;
  /** The plan of the latest usage in the month. */
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
  idempotency_keys: IdempotencyTable;
  tollgate_meta: MetaTable;
  plans: PlanTable;
  categories: CategoryTable;
  api_keys: ApiKeyTable;
  admin_users: AdminUserTable;
  admin_tokens: AdminTokenTable;
  audit_log: AuditTable;
  alert_deliveries: AlertDeliveryTable;
  alert_outages: AlertOutageTable;
  usage_hourly: UsageHourlyTable;
  usage_periods: UsagePeriodTable;
  usage_daily: UsageDailyTable;
  usage_monthly: UsageMonthlyTable;
  usage_batches: UsageBatchTable;
}
