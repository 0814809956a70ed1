import { periodBounds } from "./calendar.js";
import { type Clock, systemClock } from "./clock.js";
import { type CompiledConfig, type CompiledLimit, compileConfig, type LimitsConfig } from "./config.js";
import type { ChargeReceipt, Decision, DecisionReason, LimitStatus, MissingSubject } from "./decision.js";
import { ConfigError, InputError, TollgateError } from "./errors.js";
import { type Limit, MAX_AMOUNT } from "./limit.js";
import { memoryStore } from "./memory-store.js";
import { type BreakerOptions, type BreakerState, withTimeout } from "./resilience.js";
import type { CounterRef, DecideItem, DecideRequest, DecideResult, SeedItem, Store } from "./store.js";
import { type HealthEvent, type HealthListener, StoreGuard, type StoreHealth } from "./store-guard.js";
import { type Subject, subjectId, validateSubject } from "./subject.js";
import { noopUsageObserver, type UsageObserver } from "./usage.js";

/** One request to decide. */
export interface CheckInput {
  subject: Subject;
  /** Endpoint class (`llm_call`): adds that category's limits and filters limits by `categories`. */
  category?: string;
  /** Plan name; default from `planFor` (signed-in / anonymous when those plans exist). */
  plan?: string;
  /**
   * Units for `unit: tokens` limits (default 1). `unit: requests` limits count the request once.
   * 0 peeks: nothing is charged anywhere.
   */
  cost?: number;
  /** The caller brings its own provider key: token limits and `byokExempt` limits are skipped. */
  byok?: boolean;
  /** Evaluate without charging. */
  dryRun?: boolean;
}

export interface LimiterHooks {
  /** Every decision (metrics, alerts on `crossed`, audit). Must not throw. */
  onDecision?(decision: Decision, input: CheckInput): void;
  /**
   * A store call failed or timed out (the decision was degraded), or a compensation failed
   * (`compensate`). Called per failed call: count it, do not log it (see `onHealthChange`). Must not throw.
   */
  onStoreError?(error: unknown, operation: string): void;
  /** A node's circuit breaker changed state. Must not throw. */
  onBreakerChange?(state: BreakerState, partition: string): void;
  /** A store node went degraded or recovered: one call per change, for logs and alerts. */
  onHealthChange?(event: HealthEvent): void;
  /**
   * A store call the limiter gave up on answered later and had charged: its charge was taken
   * back (`applied`) or could not be (`applied: false`, the counters keep it until their window ends).
   */
  onCompensation?(outcome: { applied: boolean; counters: number }): void;
  /**
   * A limit applied but the subject lacks its kind: `deny` (the decision is `subject_missing`) or
   * `skip` (`whenMissing: skip`). Count these: a skip is a limit that did not protect anything.
   * Must not throw.
   */
  onSubjectMissing?(missing: MissingSubject, action: "deny" | "skip", input: CheckInput): void;
}

export interface LimiterOptions extends LimitsConfig {
  store: Store;
  /** Time for the breaker and the calendar lengths reported; stores keep their own clock. */
  clock?: Clock;
  /**
   * Time the store has to answer, in ms; slower calls degrade the decision. Time during which
   * this process itself was stalled is not counted against the store. Default 100 ms.
   */
  timeoutMs?: number;
  /** Circuit breaker per store node; `false` disables it (every call then waits out its timeout). */
  breaker?: BreakerOptions | false;
  /**
   * Store that decides `failMode: "local"` limits while the primary store is unavailable.
   * Default: an in-process memory store, created at the first outage.
   */
  fallback?: Store;
  /**
   * Share (0-1] of each limit the fallback enforces in this process: with N instances behind a
   * load balancer, 1/N keeps an outage's admissions near the limit. Default 1 (each process
   * enforces the whole limit: at most N x limit during an outage).
   */
  fallbackShare?: number;
  /** Plan for a subject when the request names none. Default: `signed-in` for a user, `anonymous` otherwise, when those plans exist. */
  planFor?: (subject: Subject) => string | undefined;
  hooks?: LimiterHooks;
  /**
   * Receives every charge, settle and refund (the usage ledger of `@tollgate/db`). When it can
   * also read usage back (`usedBetween`) and the store can `seed`, a quota counter the store lost
   * is rebuilt from it before that subject's next decision in the period (`check`, `peek`; not
   * `checkSync`, which cannot wait for SQL). Default: records nothing.
   */
  usage?: UsageObserver;
  /** Longest wait for the ledger when rebuilding a quota (then it restarts from what the store has; the decision is `degraded`). Default 2000 ms. */
  restoreTimeoutMs?: number;
}

/** Settling or refunding never throws: it answers whether the store took it. */
export type AdjustOutcome = { applied: true } | { applied: false; error: unknown };

/**
 * Decides requests against limits, atomically, on any Store.
 *
 * @example
 * const limiter = createLimiter({
 *   store: memoryStore(),
 *   limits: [{ name: "llm-hour", per: "user", algorithm: "sliding-window", limit: 20, window: "1h" }],
 * });
 * const decision = await limiter.check({ subject: { user: "u-42" } });
 */
export interface Limiter {
  /** Decides and, when allowed, charges every applicable limit (all or nothing). */
  check(input: CheckInput): Promise<Decision>;
  /**
   * `check` without a promise, for synchronous stores (memory): no microtask per decision.
   * Throws a TollgateError when the store is asynchronous (Redis): use `check` there.
   */
  checkSync(input: CheckInput): Decision;
  /** Reads the caller's counters without charging (usage endpoints). */
  peek(input: Omit<CheckInput, "cost" | "dryRun">): Promise<Decision>;
  /**
   * Replaces the estimated token cost of an allowed decision with the actual one (refund or extra
   * charge into debt). A decision is settled or refunded at most once, whichever comes first: a
   * second call changes nothing and answers `applied: false`.
   */
  settle(decision: Decision, actualCost: number): Promise<AdjustOutcome>;
  /**
   * Gives back everything an allowed decision charged (the upstream call failed) and releases its
   * leases. At most once per decision, and not after `settle`: a repeat answers `applied: false`.
   */
  refund(decision: Decision): Promise<AdjustOutcome>;
  /**
   * `check` under the name concurrency code reads best with: takes a lease on every concurrency
   * limit (and charges the others); pair it with `release` when the work is done.
   *
   * @example
   * const lease = await limiter.acquire({ subject: { user: "u-42" } });
   * if (lease.allowed) try { await work() } finally { await limiter.release(lease) }
   */
  acquire(input: CheckInput): Promise<Decision>;
  /** Releases the concurrency leases a decision took. */
  release(decision: Decision): Promise<AdjustOutcome>;
  /** Deletes every counter of a subject (all plans and categories), or only those of the named limit. */
  reset(subject: Subject, options?: { limit?: string }): Promise<void>;
  /** Replaces the limits, plans and categories; throws ConfigError and keeps the old ones if invalid. */
  update(config: LimitsConfig): void;
  /** The compiled configuration in force. */
  readonly config: CompiledConfig;
  /** The worst breaker state over the store's nodes. */
  readonly breakerState: BreakerState;
  /** Each store node's breaker state; `degraded` while any is not closed. */
  health(): StoreHealth;
  /** Subscribes to `store_degraded` / `store_recovered` events; returns the unsubscribe function. */
  onHealthChange(listener: HealthListener): () => void;
  readonly store: Store;
}

const NO_LIMITS: readonly CompiledLimit[] = Object.freeze([]);

/** Adds what every decision says about its request: plan, category, skipped limits. */
function scoped(
  decision: Decision,
  prepared: { plan: string | undefined; category: string | undefined; skipped: MissingSubject[] | undefined },
): Decision {
  if (prepared.plan !== undefined) decision.plan = prepared.plan;
  if (prepared.category !== undefined) decision.category = prepared.category;
  if (prepared.skipped !== undefined) decision.skipped = prepared.skipped;
  return decision;
}

/** Settled or refunded already: a decision's charge is adjusted at most once. */
const ALREADY_ADJUSTED = "this decision was already settled or refunded";

/**
 * A charge receipt. Its items hold every limit's configuration, which must not travel with
 * `JSON.stringify(decision)` (logs, `res.json(decision)`): serialised, it is only its summary.
 */
class Receipt implements ChargeReceipt {
  constructor(
    readonly items: readonly DecideItem[],
    readonly at: number,
    readonly cost: number,
    readonly store: ChargeReceipt["store"],
  ) {}
  toJSON() {
    return { at: this.at, cost: this.cost, store: this.store, counters: this.items.length };
  }
}
const CATEGORY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

function validateCost(cost: unknown): number {
  if (cost === undefined) return 1;
  if (typeof cost !== "number" || !Number.isInteger(cost) || cost < 0 || cost > MAX_AMOUNT) {
    throw new InputError("cost", `must be a whole number from 0 to ${MAX_AMOUNT} (got ${JSON.stringify(cost)})`);
  }
  return cost;
}

function defaultPlanFor(config: CompiledConfig): (subject: Subject) => string | undefined {
  return (subject) => {
    if (subject.user !== undefined && config.plans.has("signed-in")) return "signed-in";
    if (subject.user === undefined && subject.key === undefined && config.plans.has("anonymous")) return "anonymous";
    return undefined;
  };
}

const appliesTo = (limit: Limit, category: string | undefined) =>
  limit.categories === undefined || (category !== undefined && limit.categories.includes(category));

/** Window length in seconds as people read it: the current calendar period for quotas. */
function windowSeconds(limit: Limit, now: number): number {
  if (limit.algorithm !== "quota") return Math.round(limit.windowMs / 1000);
  const { start, end } = periodBounds(now, limit.period ?? "month", limit.timeZone);
  return Math.round((end - start) / 1000);
}

function newLeaseId(): string {
  return globalThis.crypto.randomUUID();
}

/** Creates a limiter. Configuration is validated here; a ConfigError names every bad field. */
export function createLimiter(options: LimiterOptions): Limiter {
  const clock = options.clock ?? systemClock;
  const timeoutMs = options.timeoutMs ?? 100;
  const hooks = options.hooks ?? {};
  const { store } = options;
  const guard = new StoreGuard(store, clock, {
    timeoutMs,
    breaker: options.breaker ?? {},
    ...(hooks.onBreakerChange ? { onBreakerChange: hooks.onBreakerChange } : {}),
  });
  if (hooks.onHealthChange) guard.subscribe(hooks.onHealthChange);
  const share = options.fallbackShare ?? 1;
  if (!(typeof share === "number" && share > 0 && share <= 1)) {
    throw new ConfigError([{ path: "fallbackShare", message: "must be a number in (0, 1]" }]);
  }
  let fallbackStore = options.fallback;
  /** The local fallback, created at the first outage so a healthy process never holds one. */
  const fallbackOf = () => {
    fallbackStore ??= memoryStore({ clock });
    return fallbackStore;
  };
  /** Limits as the fallback enforces them: `share` of each, at least 1. */
  const scaled = new WeakMap<Limit, Limit>();
  const shareOf = (limit: Limit): Limit => {
    if (share === 1) return limit;
    let local = scaled.get(limit);
    if (local === undefined) {
      local = Object.freeze({
        ...limit,
        limit: Math.max(1, Math.floor(limit.limit * share)),
        capacity: Math.max(1, Math.floor(limit.capacity * share)),
      });
      scaled.set(limit, local);
    }
    return local;
  };
  const usage = options.usage ?? noopUsageObserver;
  const recording = usage !== noopUsageObserver;
  const restoring = usage.usedBetween !== undefined && store.seed !== undefined;
  const restoreTimeoutMs = options.restoreTimeoutMs ?? 2000;
  let config = compileConfig(options);
  let planFor = options.planFor ?? defaultPlanFor(config);
  // plan -> category -> applicable limits; "" stands for none. Nested maps avoid building a key per decision.
  let applicable = new Map<string, Map<string, readonly CompiledLimit[]>>();
  /** The limits of a request with neither plan nor category: the common library case, one branch away. */
  let unscoped: readonly CompiledLimit[] | undefined;

  function limitsFor(plan: string | undefined, category: string | undefined): readonly CompiledLimit[] {
    if (plan === undefined && category === undefined && unscoped !== undefined) return unscoped;
    let byCategory = applicable.get(plan ?? "");
    if (byCategory === undefined) {
      byCategory = new Map();
      applicable.set(plan ?? "", byCategory);
    }
    let list = byCategory.get(category ?? "");
    if (list === undefined) {
      const planLimits = plan === undefined ? NO_LIMITS : (config.plans.get(plan) ?? NO_LIMITS);
      const categoryLimits = category === undefined ? NO_LIMITS : (config.categories.get(category) ?? NO_LIMITS);
      // Not frozen: frozen arrays leave V8's fast iteration paths, and this one is read per decision.
      list = [...config.global, ...planLimits, ...categoryLimits].filter(({ limit }) => appliesTo(limit, category));
      byCategory.set(category ?? "", list);
      if (plan === undefined && category === undefined) unscoped = list;
    }
    return list;
  }

  /** A decision ready for the store: it is the store request itself (one object fewer per decision). */
  interface Prepared extends DecideRequest {
    items: DecideItem[];
    charge: boolean;
    cost: number;
    plan: string | undefined;
    category: string | undefined;
    /** Enforced limits whose subject is absent (`whenMissing: deny`): the decision is subject_missing. */
    missing: MissingSubject[] | undefined;
    /** Limits passed over for lack of their subject (`whenMissing: skip`). */
    skipped: MissingSubject[] | undefined;
  }

  function prepare(input: CheckInput): Prepared {
    if (typeof input !== "object" || input === null) throw new InputError("input", "must be an object");
    const subject = validateSubject(input.subject);
    const cost = validateCost(input.cost);
    const { category } = input;
    if (category !== undefined) {
      if (typeof category !== "string" || !CATEGORY_PATTERN.test(category)) {
        throw new InputError("category", "must be 1-64 letters, digits, '_', '.', '-'");
      }
      if (config.knownCategories.size > 0 && !config.knownCategories.has(category)) {
        throw new InputError("category", `unknown category "${category}"`);
      }
    }
    const plan = input.plan ?? planFor(subject);
    if (plan !== undefined && (typeof plan !== "string" || !config.plans.has(plan))) {
      throw new InputError("plan", `unknown plan ${JSON.stringify(plan)}`);
    }
    if (input.byok !== undefined && typeof input.byok !== "boolean") throw new InputError("byok", "must be a boolean");
    if (input.dryRun !== undefined && typeof input.dryRun !== "boolean") {
      throw new InputError("dryRun", "must be a boolean");
    }
    const byok = input.byok === true;
    const items: DecideItem[] = [];
    let missing: MissingSubject[] | undefined;
    let skipped: MissingSubject[] | undefined;
    let quotas = false;
    const applicableLimits = limitsFor(plan, category);
    for (let i = 0; i < applicableLimits.length; i++) {
      const { limit, counter } = applicableLimits[i] as CompiledLimit;
      if (byok && (limit.unit === "tokens" || limit.byokExempt)) continue;
      const id = subjectId(subject, limit.per);
      if (id === undefined) {
        // No silent pass: an identity bug upstream must fail loudly, not open an unlimited budget.
        const entry: MissingSubject = { limit: limit.name, field: limit.per as MissingSubject["field"] };
        const deny = limit.whenMissing === "deny" && limit.mode === "enforce";
        if (deny) missing = [...(missing ?? []), entry];
        else skipped = [...(skipped ?? []), entry];
        hooks.onSubjectMissing?.(entry, deny ? "deny" : "skip", input);
        continue;
      }
      const itemCost = limit.unit === "tokens" ? cost : cost > 0 ? 1 : 0;
      const item: DecideItem = { counter, id, limit, cost: itemCost };
      if (limit.algorithm === "concurrency" && itemCost > 0) item.leaseId = newLeaseId();
      else if (limit.algorithm === "quota") quotas = true;
      items.push(item);
    }
    const prepared: Prepared = {
      items,
      charge: input.dryRun !== true && cost > 0,
      cost,
      plan,
      category,
      missing,
      skipped,
    };
    if (quotas && restoring) prepared.restore = true;
    return prepared;
  }

  /**
   * Calls the store through its node's breaker and the deadline; failures reject with the cause.
   * A synchronous store (memory) cannot hang, so it is called directly: a throw still degrades.
   */
  function guarded<T, A>(
    operation: string,
    call: (argument: A) => T | Promise<T>,
    argument: A,
    refs: readonly CounterRef[],
    onLateResult?: (value: T) => void,
  ): T | Promise<T> {
    if (store.synchronous === true) return call.call(store, argument);
    return guard.call(operation, call, argument, refs, onLateResult);
  }

  /**
   * A decide call the limiter gave up on (timeout) answered later. If it charged, the caller was
   * told otherwise (degraded, or denied): take the charge back so the counters hold only what
   * callers were told they got.
   */
  function compensate(prepared: Prepared, result: DecideResult) {
    if (!result.charged) return;
    const refunds = prepared.items
      .filter((item) => item.cost > 0 && item.limit.algorithm !== "concurrency")
      .map((item) => ({
        counter: item.counter,
        id: item.id,
        limit: item.limit,
        delta: -item.cost,
        chargedAt: result.now,
      }));
    const leases = prepared.items.flatMap((item) =>
      item.leaseId === undefined
        ? []
        : [{ counter: item.counter, id: item.id, limit: item.limit, leaseId: item.leaseId }],
    );
    const attempt = async () => {
      if (refunds.length > 0) await store.adjust(refunds);
      if (leases.length > 0) await store.release(leases);
    };
    // The store just answered, so it is usually up; one retry covers a blip.
    attempt()
      .catch(() => new Promise((resolve) => setTimeout(resolve, 1_000)).then(attempt))
      .then(
        () => hooks.onCompensation?.({ applied: true, counters: prepared.items.length }),
        (error: unknown) => {
          hooks.onStoreError?.(error, "compensate");
          hooks.onCompensation?.({ applied: false, counters: prepared.items.length });
        },
      );
  }

  function toDecision(prepared: Prepared, result: DecideResult, source: ChargeReceipt["store"]): Decision {
    const { items } = prepared;
    const limits: LimitStatus[] = new Array(items.length);
    let allowed = true;
    let longestWait = 0;
    let bindingLimit: Limit | undefined;
    let neverFits = false;
    for (let i = 0; i < items.length; i++) {
      const { limit, id } = items[i] as DecideItem;
      const outcome = result.outcomes[i] as DecideResult["outcomes"][number];
      const status: LimitStatus = {
        name: limit.name,
        subject: `${limit.per}:${id}`,
        mode: limit.mode,
        algorithm: limit.algorithm,
        unit: limit.unit,
        limit: limit.capacity,
        used: outcome.used,
        remaining: outcome.remaining,
        reset: Math.max(0, Math.ceil(outcome.resetMs / 1000)),
        window: windowSeconds(limit, result.now),
        exceeded: outcome.exceeded,
        crossed: outcome.crossed,
      };
      if (limit.alert !== undefined) status.alert = limit.alert;
      if (!outcome.fits && outcome.retryAfterMs !== Number.POSITIVE_INFINITY) {
        status.retryAfter = Math.max(1, Math.ceil(outcome.retryAfterMs / 1000));
      }
      limits[i] = status;
      if (!outcome.fits && limit.mode === "enforce") {
        allowed = false;
        if (outcome.retryAfterMs === Number.POSITIVE_INFINITY) neverFits = true;
        else if (outcome.retryAfterMs >= longestWait) {
          longestWait = outcome.retryAfterMs;
          bindingLimit = limit;
        }
      }
    }
    const decision = scoped({ allowed, limits }, prepared);
    if (!allowed) {
      let reason: DecisionReason = "limit_exceeded";
      if (neverFits) reason = "cost_exceeds_limit";
      else {
        if (bindingLimit?.algorithm === "quota") reason = "quota_exceeded";
        // Every denying limit fits after the longest of their waits: the others only recover meanwhile.
        const retryAfter = Math.max(1, Math.ceil(longestWait / 1000));
        decision.retryAfter = retryAfter;
        // What a client reads is what happens: no denying limit may advertise a reset before the
        // retry-after (a window's end can come before a rolling count has decayed enough).
        for (const status of limits) {
          if (status.exceeded && status.mode === "enforce" && status.reset < retryAfter) status.reset = retryAfter;
        }
      }
      decision.reason = reason;
    }
    if (result.charged) {
      decision.receipt = new Receipt(prepared.items, result.now, prepared.cost, source);
    }
    return decision;
  }

  /**
   * The decision when the primary store could not answer: a `closed` enforced limit denies;
   * `open` ones allow. (`local` limits are decided by the fallback first: see `localRequest`.)
   */
  function failModeDecision(prepared: Prepared): Decision {
    const closed = prepared.items.some(({ limit }) => limit.mode === "enforce" && limit.failMode === "closed");
    const decision = scoped({ allowed: !closed, reason: "store_unavailable", degraded: true, limits: [] }, prepared);
    if (closed) decision.retryAfter = 1;
    return decision;
  }

  /** The request the fallback decides: the `local` limits, each at its share; undefined when none or a `closed` one denies. */
  function localRequest(prepared: Prepared): Prepared | undefined {
    let local = 0;
    for (const { limit } of prepared.items) {
      if (limit.mode === "enforce" && limit.failMode === "closed") return undefined;
      if (limit.failMode === "local") local++;
    }
    if (local === 0) return undefined;
    const items: DecideItem[] = [];
    for (const item of prepared.items) {
      if (item.limit.failMode === "local") items.push({ ...item, limit: shareOf(item.limit) });
    }
    return { ...prepared, items };
  }

  /** The insurance store decides an outage on its own: it never waits for the ledger. */
  function withoutRestore(prepared: Prepared): Prepared {
    return prepared.restore === true ? { ...prepared, restore: false } : prepared;
  }

  function fromFallback(prepared: Prepared, result: DecideResult): Decision {
    const decision = toDecision(prepared, result, "fallback");
    decision.degraded = true;
    return decision;
  }

  async function degrade(prepared: Prepared, error: unknown, operation: string): Promise<Decision> {
    hooks.onStoreError?.(error, operation);
    const local = localRequest(prepared);
    if (local) {
      try {
        return fromFallback(local, await fallbackOf().decide(withoutRestore(local)));
      } catch (fallbackError) {
        hooks.onStoreError?.(fallbackError, `fallback ${operation}`);
      }
    }
    return failModeDecision(prepared);
  }

  function degradeSync(prepared: Prepared, error: unknown): Decision {
    hooks.onStoreError?.(error, "decide");
    const local = localRequest(prepared);
    const target = local ? fallbackOf() : undefined;
    if (local && target?.synchronous) {
      try {
        return fromFallback(local, target.decide(withoutRestore(local)) as DecideResult);
      } catch (fallbackError) {
        hooks.onStoreError?.(fallbackError, "fallback decide");
      }
    }
    return failModeDecision(prepared);
  }

  function withoutLimits(prepared: Prepared): Decision {
    return scoped({ allowed: true, limits: [] }, prepared);
  }

  /** Denied before any store call: nothing is counted, and no wait will help. */
  function subjectMissing(prepared: Prepared, missing: MissingSubject[]): Decision {
    return scoped({ allowed: false, reason: "subject_missing", limits: [], missing }, prepared);
  }

  /** Answers without a store call: no limit applied, or a subject is missing. */
  function withoutStore(prepared: Prepared): Decision | undefined {
    if (prepared.missing !== undefined) return subjectMissing(prepared, prepared.missing);
    if (prepared.items.length === 0) return withoutLimits(prepared);
    return undefined;
  }

  function finish(decision: Decision, input: CheckInput): Decision {
    if (recording && decision.receipt !== undefined) recordCharge(decision.receipt, decision);
    hooks.onDecision?.(decision, input);
    return decision;
  }

  /** Every counter a decision charged becomes usage (leases are not usage). */
  function recordCharge(receipt: ChargeReceipt, decision: Decision) {
    const { items, at } = receipt;
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as DecideItem;
      if (item.cost > 0 && item.limit.algorithm !== "concurrency") {
        usage.record(item, item.cost, at, decision.plan, decision.category);
      }
    }
  }

  /**
   * Reads each quota counter's usage in the current period from the ledger and seeds the store
   * with it (seed if absent: a counter another caller seeded or charged meanwhile is kept).
   */
  async function seedFromLedger(prepared: Prepared, now: number) {
    const seeds: SeedItem[] = [];
    const reads: (number | Promise<number>)[] = [];
    for (const item of prepared.items) {
      const { limit } = item;
      if (limit.algorithm !== "quota") continue;
      const { start, end } = periodBounds(now, limit.period ?? "month", limit.timeZone);
      seeds.push({ counter: item.counter, id: item.id, limit, start, count: 0 });
      reads.push(
        withTimeout(
          (usage.usedBetween as NonNullable<UsageObserver["usedBetween"]>)(
            item.counter,
            `${limit.per}:${item.id}`,
            start,
            end,
          ),
          restoreTimeoutMs,
          "usage ledger read",
        ),
      );
    }
    const counts = await Promise.all(reads);
    for (let i = 0; i < seeds.length; i++) (seeds[i] as SeedItem).count = Math.max(0, counts[i] as number);
    await guarded("seed", store.seed as NonNullable<Store["seed"]>, seeds, seeds);
  }

  /**
   * The store lost a quota counter of this decision: rebuild it from the ledger, then decide. A
   * few rounds cover a counter that vanished again in between; a ledger that cannot answer leaves
   * the store as it is (the decision is marked degraded and the quota restarts from there).
   */
  async function restoreThenDecide(prepared: Prepared, now: number): Promise<Decision> {
    let ledgerFailed = false;
    let storeTime = now;
    for (let round = 0; round < 3 && !ledgerFailed; round++) {
      try {
        await seedFromLedger(prepared, storeTime);
      } catch (error) {
        hooks.onStoreError?.(error, "restore");
        ledgerFailed = true;
        break;
      }
      let result: DecideResult;
      try {
        result = await guarded("decide", store.decide, prepared, prepared.items);
      } catch (error) {
        return degrade(prepared, error, "decide");
      }
      if (result.missing !== true) return toDecision(prepared, result, "primary");
      storeTime = result.now;
    }
    const plain: Prepared = { ...prepared, restore: false };
    let result: DecideResult;
    try {
      result = await guarded("decide", store.decide, plain, plain.items);
    } catch (error) {
      return degrade(prepared, error, "decide");
    }
    const decision = toDecision(prepared, result, "primary");
    if (ledgerFailed) decision.degraded = true;
    return decision;
  }

  /**
   * Decides with as little machinery as the store allows: a synchronous store (memory) answers
   * without a single await, so the only promise is the one `check` returns.
   */
  function check(input: CheckInput): Promise<Decision> {
    let prepared: Prepared;
    let answer: DecideResult | Promise<DecideResult>;
    try {
      prepared = prepare(input);
    } catch (error) {
      return Promise.reject(error);
    }
    const early = withoutStore(prepared);
    if (early !== undefined) return Promise.resolve(finish(early, input));
    try {
      answer = guarded("decide", store.decide, prepared, prepared.items, (late) => compensate(prepared, late));
    } catch (error) {
      return degrade(prepared, error, "decide").then((decision) => finish(decision, input));
    }
    if (answer instanceof Promise) {
      return answer.then(
        (result) =>
          result.missing === true
            ? restoreThenDecide(prepared, result.now).then((decision) => finish(decision, input))
            : finish(toDecision(prepared, result, "primary"), input),
        (error: unknown) => degrade(prepared, error, "decide").then((decision) => finish(decision, input)),
      );
    }
    if (answer.missing === true) {
      return restoreThenDecide(prepared, answer.now).then((decision) => finish(decision, input));
    }
    return Promise.resolve(finish(toDecision(prepared, answer, "primary"), input));
  }

  function checkSync(input: CheckInput): Decision {
    if (store.synchronous !== true) {
      throw new TollgateError(`checkSync needs a synchronous store; "${store.name}" is not: use check()`);
    }
    const prepared = prepare(input);
    // No await here: quotas are decided on what the store has (restoring needs the ledger: check()).
    prepared.restore = false;
    const early = withoutStore(prepared);
    if (early !== undefined) return finish(early, input);
    let answer: DecideResult | Promise<DecideResult>;
    try {
      answer = guarded("decide", store.decide, prepared, prepared.items);
    } catch (error) {
      return finish(degradeSync(prepared, error), input);
    }
    return finish(toDecision(prepared, answer as DecideResult, "primary"), input);
  }

  function storeOf(receipt: ChargeReceipt): Store {
    return receipt.store === "fallback" ? fallbackOf() : store;
  }

  async function adjustWith(receipt: ChargeReceipt | undefined, items: Parameters<Store["adjust"]>[0]) {
    if (receipt === undefined || items.length === 0) return { applied: true } as const;
    try {
      const target = storeOf(receipt);
      await (target === store ? guarded("adjust", store.adjust, items, items) : target.adjust(items));
      return { applied: true } as const;
    } catch (error) {
      hooks.onStoreError?.(error, "adjust");
      return { applied: false, error } as const;
    }
  }

  async function releaseLeases(receipt: ChargeReceipt | undefined): Promise<AdjustOutcome> {
    const leases = (receipt?.items ?? []).flatMap((item) =>
      item.leaseId === undefined
        ? []
        : [{ counter: item.counter, id: item.id, limit: item.limit, leaseId: item.leaseId }],
    );
    if (receipt === undefined || leases.length === 0) return { applied: true };
    try {
      const target = storeOf(receipt);
      await (target === store ? guarded("release", store.release, leases, leases) : target.release(leases));
      return { applied: true };
    } catch (error) {
      hooks.onStoreError?.(error, "release");
      return { applied: false, error };
    }
  }

  /** Gives back every unit a decision charged and frees its leases. */
  async function refundAll(decision: Decision): Promise<AdjustOutcome> {
    const { receipt } = decision;
    const items = (receipt?.items ?? [])
      .filter((item) => item.cost > 0 && item.limit.algorithm !== "concurrency")
      .map((item) => ({
        counter: item.counter,
        id: item.id,
        limit: item.limit,
        delta: -item.cost,
        chargedAt: receipt?.at ?? 0,
      }));
    if (recording && receipt !== undefined && firstRecord(receipt)) {
      for (const item of items) usage.record(item, item.delta, item.chargedAt, decision.plan, decision.category);
    }
    const refunded = await adjustWith(receipt, items);
    const released = await releaseLeases(receipt);
    return refunded.applied ? released : refunded;
  }

  /**
   * A settle or refund reaches the ledger once per charge: a call retried after the store failed
   * (the claim of `once` is given back then) must not record the same usage again.
   */
  const recordedAdjustments = new WeakSet<ChargeReceipt>();
  function firstRecord(receipt: ChargeReceipt): boolean {
    if (recordedAdjustments.has(receipt)) return false;
    recordedAdjustments.add(receipt);
    return true;
  }

  /**
   * One lifecycle per charge: settle or refund, whichever comes first, at most once. Claimed
   * synchronously, so two concurrent calls cannot both apply; a failed store call gives the claim
   * back so the caller may retry.
   */
  const adjusted = new WeakSet<ChargeReceipt>();
  async function once(receipt: ChargeReceipt | undefined, apply: () => Promise<AdjustOutcome>): Promise<AdjustOutcome> {
    if (receipt === undefined) return { applied: true };
    if (adjusted.has(receipt)) return { applied: false, error: new TollgateError(ALREADY_ADJUSTED) };
    adjusted.add(receipt);
    const outcome = await apply();
    if (!outcome.applied) adjusted.delete(receipt);
    return outcome;
  }

  return {
    check,
    checkSync,
    acquire: check,
    peek: (input) => check({ ...input, cost: 0, dryRun: true }),
    async settle(decision, actualCost) {
      const actual = validateCost(actualCost);
      const { receipt } = decision;
      return once(receipt, async () => {
        if (receipt === undefined) return { applied: true };
        const delta = actual - receipt.cost;
        if (delta === 0) return { applied: true };
        const items = receipt.items
          .filter((item) => item.limit.unit === "tokens")
          .map((item) => ({ counter: item.counter, id: item.id, limit: item.limit, delta, chargedAt: receipt.at }));
        // The ledger keeps what was really used, whether or not the counter store took the adjustment.
        if (recording && firstRecord(receipt)) {
          const at = delta > 0 ? clock.now() : receipt.at;
          for (const item of items) {
            if (item.limit.algorithm !== "concurrency") usage.record(item, delta, at, decision.plan, decision.category);
          }
        }
        return adjustWith(receipt, items);
      });
    },
    refund: (decision) => once(decision.receipt, () => refundAll(decision)),
    release: (decision) => releaseLeases(decision.receipt),
    async reset(subjectInput, resetOptions = {}) {
      const subject = validateSubject(subjectInput);
      const all = [...config.global, ...[...config.plans.values()].flat(), ...[...config.categories.values()].flat()];
      const seen = new Set<string>();
      const refs: CounterRef[] = [];
      for (const { limit, counter } of all) {
        if (resetOptions.limit !== undefined && limit.name !== resetOptions.limit) continue;
        const id = subjectId(subject, limit.per);
        if (id === undefined || limit.per === "global" || seen.has(counter)) continue;
        seen.add(counter);
        refs.push({ counter, id, limit });
      }
      if (refs.length > 0) await guarded("reset", store.reset, refs, refs);
      // A reset quota starts the period afresh: seed it at 0 so the next decision does not rebuild it from the ledger.
      if (restoring) {
        const now = clock.now();
        const seeds = refs
          .filter((ref) => ref.limit.algorithm === "quota")
          .map((ref) => ({
            ...ref,
            start: periodBounds(now, ref.limit.period ?? "month", ref.limit.timeZone).start,
            count: 0,
          }));
        if (seeds.length > 0) await guarded("seed", store.seed as NonNullable<Store["seed"]>, seeds, seeds);
      }
    },
    update(next) {
      const compiled = compileConfig(next);
      config = compiled;
      planFor = options.planFor ?? defaultPlanFor(compiled);
      applicable = new Map();
      unscoped = undefined;
    },
    get config() {
      return config;
    },
    get breakerState() {
      return guard.health().state;
    },
    health: () => guard.health(),
    onHealthChange: (listener) => guard.subscribe(listener),
    store,
  };
}
