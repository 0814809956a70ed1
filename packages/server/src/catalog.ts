import {
  ConfigError,
  compileConfig,
  type Issue,
  type Limiter,
  type LimitSpec,
  type LimitsConfig,
} from "@tollgate/core";
import type { Database, Db, Role } from "@tollgate/db";
import type { Kysely, Transaction } from "kysely";
import { sha256 } from "./secrets.js";

/** An API key as the hot path needs it (never the secret; only its hash). */
export interface KeyRecord {
  id: string;
  name: string | null;
  prefix: string;
  hash: string;
  owner: string;
  plan: string;
  scopes: string[];
  status: "active" | "revoked";
  expiresAt: number | null;
  overrides: LimitSpec[];
  createdAt: string;
  /** The plan the limiter uses for this key: its own when it has overrides. */
  effectivePlan: string;
}

export interface TokenRecord {
  id: string;
  name: string;
  role: Role;
  hash: string;
}

/** Synthetic per-key plan holding the key's plan merged with its overrides. */
export const overridePlanName = (keyId: string) => `key.${keyId}`;

/**
 * The plan's limits with a key's overrides: same name replaces, new names add. Counters of
 * unchanged limits are shared with the plan (same name and shape), so usage carries over.
 */
export function mergeOverrides(planLimits: unknown[], overrides: unknown[]): unknown[] {
  const byName = new Map<string, unknown>();
  for (const limit of planLimits) byName.set((limit as { name: string }).name, limit);
  for (const limit of overrides) byName.set((limit as { name: string }).name, limit);
  return [...byName.values()];
}

const toMs = (value: Date | string | null) => (value === null ? null : new Date(value).getTime());

export interface PlanRecord {
  readonly limits: unknown[];
  readonly updatedAt: string;
}

export interface CategoryRecord extends PlanRecord {
  readonly requiredScope: string | null;
}

/**
 * One consistent, frozen reading of the catalog. A reload builds a new snapshot and swaps it in
 * with a single assignment, so a reader holding one never sees plans from one reading and keys
 * from another (the hot path reads `keysByHash`, admin views `keysById`).
 */
export interface CatalogSnapshot {
  readonly version: string;
  readonly plans: ReadonlyMap<string, PlanRecord>;
  readonly categories: ReadonlyMap<string, CategoryRecord>;
  readonly keysByHash: ReadonlyMap<string, KeyRecord>;
  readonly keysById: ReadonlyMap<string, KeyRecord>;
  readonly tokensByHash: ReadonlyMap<string, TokenRecord>;
}

const EMPTY: CatalogSnapshot = Object.freeze({
  version: "",
  plans: new Map(),
  categories: new Map(),
  keysByHash: new Map(),
  keysById: new Map(),
  tokensByHash: new Map(),
});

/** The limits configuration a snapshot stands for (with per-key override plans). */
export function snapshotLimits(snapshot: CatalogSnapshot, fileLimits: unknown[] | undefined): LimitsConfig {
  const plans: Record<string, { limits: unknown[] }> = {};
  for (const [name, plan] of snapshot.plans) plans[name] = { limits: plan.limits };
  for (const key of snapshot.keysById.values()) {
    if (key.overrides.length > 0 && key.status === "active") {
      plans[key.effectivePlan] = {
        limits: mergeOverrides(snapshot.plans.get(key.plan)?.limits ?? [], key.overrides),
      };
    }
  }
  const categories: Record<string, { limits: unknown[]; requiredScope?: string }> = {};
  for (const [name, category] of snapshot.categories) {
    categories[name] = {
      limits: category.limits,
      ...(category.requiredScope ? { requiredScope: category.requiredScope } : {}),
    };
  }
  return { limits: fileLimits, plans, categories } as LimitsConfig;
}

/**
 * The catalog (plans, categories, keys, tokens) cached in memory: no database read on the hot
 * path. Every change bumps `catalog_version`; each instance polls it and reloads, so an edit on
 * one instance applies on all within the poll interval. Readers get the current snapshot's
 * maps; a reader that needs several of them consistent takes `catalog.snapshot` once.
 *
 * @example
 * const catalog = new Catalog(db, limiter, { limits: config.limits });
 * await catalog.reload();
 * catalog.startPolling(1000);
 */
export class Catalog {
  private current: CatalogSnapshot = EMPTY;
  /** The last catalog version read, applied or not (a version that failed is not retried every poll). */
  private seenVersion = "";
  private timer: NodeJS.Timeout | undefined;
  /** Each poll that reached the database (quiet logs: the failure was said once, so is the recovery). */
  onPolled: () => void = () => {};
  private reloading: Promise<void> | undefined;
  private queuedReload: Promise<void> | undefined;

  constructor(
    readonly db: Db,
    readonly limiter: Limiter,
    /** Top-level limits from the config file (not edited through the admin API). */
    readonly fileLimits: unknown[] | undefined,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  get kysely(): Kysely<Database> {
    return this.db.kysely;
  }

  /** The current snapshot: take it once when several maps must agree. */
  get snapshot(): CatalogSnapshot {
    return this.current;
  }
  get version(): string {
    return this.current.version;
  }
  get plans(): ReadonlyMap<string, PlanRecord> {
    return this.current.plans;
  }
  get categories(): ReadonlyMap<string, CategoryRecord> {
    return this.current.categories;
  }
  get keysByHash(): ReadonlyMap<string, KeyRecord> {
    return this.current.keysByHash;
  }
  get keysById(): ReadonlyMap<string, KeyRecord> {
    return this.current.keysById;
  }
  get tokensByHash(): ReadonlyMap<string, TokenRecord> {
    return this.current.tokensByHash;
  }

  /** The limits configuration the cached catalog stands for (with per-key override plans). */
  limitsConfig(): LimitsConfig {
    return snapshotLimits(this.current, this.fileLimits);
  }

  /** Checks a change beyond the limit rules (alert routes); set by the server. */
  extraChecks: (before: LimitsConfig, after: LimitsConfig) => Issue[] = () => [];

  /** Throws ConfigError when the catalog with `change` applied would not compile. */
  validate(change: (config: LimitsConfig) => void) {
    const before = this.limitsConfig();
    const config = this.limitsConfig();
    change(config);
    compileConfig(config);
    const issues = this.extraChecks(before, config);
    if (issues.length > 0) throw new ConfigError(issues);
  }

  /**
   * Reads everything and swaps it in atomically; the limiter gets the new limits at once.
   * Resolves only with a reading that started after this call: an admin change reloads right
   * after its commit and must see its own row, so a reload already reading cannot stand in for
   * it. Callers arriving meanwhile share one queued reload instead of stampeding the database.
   */
  reload(): Promise<void> {
    if (!this.reloading) {
      this.reloading = this.doReload().finally(() => {
        this.reloading = undefined;
      });
      return this.reloading;
    }
    this.queuedReload ??= this.reloading
      .catch(() => {})
      .then(() => {
        this.queuedReload = undefined;
        return this.reload();
      });
    return this.queuedReload;
  }

  private async doReload() {
    const db = this.kysely;
    const [version, plans, categories, keys, tokens] = await Promise.all([
      db.selectFrom("tollgate_meta").select("value").where("key", "=", "catalog_version").executeTakeFirst(),
      db.selectFrom("plans").selectAll().execute(),
      db.selectFrom("categories").selectAll().execute(),
      db.selectFrom("api_keys").selectAll().execute(),
      db.selectFrom("admin_tokens").selectAll().where("revoked_at", "is", null).execute(),
    ]);
    const keysByHash = new Map<string, KeyRecord>();
    const keysById = new Map<string, KeyRecord>();
    for (const row of keys) {
      const overrides = Object.freeze((row.overrides ?? []) as LimitSpec[]) as LimitSpec[];
      const record: KeyRecord = Object.freeze({
        id: row.id,
        name: row.name,
        prefix: row.prefix,
        hash: row.secret_hash,
        owner: row.owner,
        plan: row.plan,
        scopes: Object.freeze(row.scopes ?? []) as string[],
        status: row.status,
        expiresAt: toMs(row.expires_at),
        overrides,
        createdAt: new Date(row.created_at).toISOString(),
        effectivePlan: overrides.length > 0 ? overridePlanName(row.id) : row.plan,
      });
      keysById.set(record.id, record);
      keysByHash.set(record.hash, record);
    }
    const next: CatalogSnapshot = Object.freeze({
      version: version?.value ?? "0",
      plans: new Map(
        plans.map((p) => [
          p.name,
          Object.freeze({ limits: p.limits, updatedAt: new Date(p.updated_at).toISOString() }),
        ]),
      ),
      categories: new Map(
        categories.map((c) => [
          c.name,
          Object.freeze({
            limits: c.limits,
            requiredScope: c.required_scope,
            updatedAt: new Date(c.updated_at).toISOString(),
          }),
        ]),
      ),
      keysByHash,
      keysById,
      tokensByHash: new Map(
        tokens.map((row) => [
          row.token_hash,
          Object.freeze({ id: row.id, name: row.name, role: row.role, hash: row.token_hash }),
        ]),
      ),
    });
    this.seenVersion = next.version;
    try {
      this.limiter.update(snapshotLimits(next, this.fileLimits));
    } catch (error) {
      // A bad row (edited by hand in SQL) must not take limits away: the previous snapshot and
      // limits stay, whole.
      this.onError(error);
      return;
    }
    // The limiter took the new limits synchronously above; no reader runs between that and this.
    this.current = next;
  }

  /** Adds the env-provided tokens (never stored) to the token cache. */
  addStaticToken(token: string, role: Role, name: string) {
    this.staticTokens.set(sha256(token), { id: `env:${name}`, name, role, hash: sha256(token) });
  }
  readonly staticTokens = new Map<string, TokenRecord>();

  startPolling(intervalMs: number) {
    this.timer = setInterval(() => {
      this.kysely
        .selectFrom("tollgate_meta")
        .select("value")
        .where("key", "=", "catalog_version")
        .executeTakeFirst()
        .then((row) => ((row?.value ?? "0") !== this.seenVersion ? this.reload() : undefined))
        .then(() => this.onPolled(), this.onError);
    }, intervalMs);
    this.timer.unref();
  }

  stopPolling() {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Runs an admin change in one transaction with its audit entry and a version bump, then
   * reloads this instance at once (the others follow on their next poll).
   */
  async change<T>(
    audit: { actor: string; action: string; target: string; detail?: Record<string, unknown> },
    apply: (trx: Transaction<Database>) => Promise<T>,
  ): Promise<T> {
    const result = await this.kysely.transaction().execute(async (trx) => {
      const value = await apply(trx);
      await trx
        .insertInto("audit_log")
        .values({
          at: new Date(),
          actor: audit.actor,
          action: audit.action,
          target: audit.target,
          detail: JSON.stringify(audit.detail ?? {}),
        })
        .execute();
      await bumpVersion(trx);
      return value;
    });
    await this.reload();
    return result;
  }
}

export async function bumpVersion(trx: Kysely<Database>) {
  const version = `${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 8)}`;
  await trx
    .insertInto("tollgate_meta")
    .values({ key: "catalog_version", value: version })
    .onConflict((oc) => oc.column("key").doUpdateSet({ value: version }))
    .execute();
}

/** Stable JSON (sorted keys) so the seed hash does not depend on key order. */
function stable(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stable).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * Seeds plans and categories from the config file. A row is (re)written when it is missing or
 * when the file's version of it changed since it was last seeded; otherwise an edit made through
 * the admin API survives restarts. Returns the names written.
 */
export async function seedCatalog(
  db: Kysely<Database>,
  config: {
    plans?: Record<string, { limits: unknown[] }>;
    categories?: Record<string, { limits: unknown[]; requiredScope?: string }>;
  },
): Promise<string[]> {
  const written: string[] = [];
  await db.transaction().execute(async (trx) => {
    const plans = new Map(
      (await trx.selectFrom("plans").select(["name", "seed_hash"]).execute()).map((r) => [r.name, r.seed_hash]),
    );
    const categories = new Map(
      (await trx.selectFrom("categories").select(["name", "seed_hash"]).execute()).map((r) => [r.name, r.seed_hash]),
    );
    for (const [name, plan] of Object.entries(config.plans ?? {})) {
      const hash = sha256(stable(plan));
      if (plans.get(name) === hash) continue;
      const row = { limits: JSON.stringify(plan.limits), seed_hash: hash, updated_at: new Date() };
      await trx
        .insertInto("plans")
        .values({ name, ...row })
        .onConflict((oc) => oc.column("name").doUpdateSet(row))
        .execute();
      written.push(`plans.${name}`);
    }
    for (const [name, category] of Object.entries(config.categories ?? {})) {
      const hash = sha256(stable(category));
      if (categories.get(name) === hash) continue;
      const row = {
        limits: JSON.stringify(category.limits ?? []),
        required_scope: category.requiredScope ?? null,
        seed_hash: hash,
        updated_at: new Date(),
      };
      await trx
        .insertInto("categories")
        .values({ name, ...row })
        .onConflict((oc) => oc.column("name").doUpdateSet(row))
        .execute();
      written.push(`categories.${name}`);
    }
    if (written.length > 0) await bumpVersion(trx);
  });
  return written;
}
