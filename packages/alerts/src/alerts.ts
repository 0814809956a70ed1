import {
  type BreakerState,
  ClaimTable,
  type Clock,
  ConfigError,
  type DecideItem,
  type Decision,
  type Issue,
  type Limit,
  type LimiterHooks,
  type LimitStatus,
  type Store,
  systemClock,
} from "@tollgate/core";
import {
  type AlertsConfig,
  type AlertsConfigInput,
  alertsConfigSchema,
  isRoute,
  routeConfigSchema,
  routeIssues,
  sinkConfigSchema,
} from "./config.js";
import { type DeliveryLog, type DeliveryQuery, type DeliveryRecord, memoryDeliveryLog } from "./deliveries.js";
import { eventId } from "./ids.js";
import { type AlertLogger, consoleLogger } from "./logger.js";
import { type AlertMetrics, type AlertStats, noopAlertMetrics } from "./metrics.js";
import { localOutageBoard, type OutageBoard } from "./outages.js";
import { type DeliveryOptions, DeliveryQueue, type EventDraft } from "./queue.js";
import { type Candidate, candidates, mayRaise, planOf, windowOf } from "./rules.js";
import { undiciPoster } from "./sinks/http.js";
import { createSink, type Sink } from "./sinks/index.js";

export interface AlertsOptions {
  /** Sinks and routes by name (the server's `alerts:` section); validated here. */
  config: AlertsConfigInput;
  /**
   * The counter store the limiter uses: its `claimOnce` makes each event fire once across every
   * process sharing it (Redis). Without one, or one lacking `claimOnce`, claims are per process.
   */
  store?: Pick<Store, "name" | "claimOnce" | "synchronous">;
  /** Time for system events and local claims (tests inject core's manualClock). */
  clock?: Clock;
  logger?: AlertLogger;
  /** Where delivery records go; default the newest 1,000 in memory. */
  deliveryLog?: DeliveryLog;
  metrics?: AlertMetrics;
  delivery?: DeliveryOptions;
  /** Names this process in store events (the instance that reported the outage). Default host:pid. */
  instance?: string;
  /**
   * Where instances agree on store outages (store_degraded / store_recovered once per outage
   * across all of them). Default: this process alone. The server passes its SQL database's.
   */
  outages?: OutageBoard;
  /** projected_to_exceed waits until this fraction of a calendar period has passed. Default 0.1. */
  projectionMinElapsed?: number;
}

/** A store or ledger condition reported by the code that saw it. */
export interface LedgerBacklogReport {
  /** Entries waiting to be written. */
  pending: number;
  /** Age of the oldest waiting entry. */
  oldestAgeMs: number;
  /** At most one event per this interval, across instances sharing the store. Default 15 min. */
  everyMs?: number;
}

/**
 * Alerts for a limiter: pass `alerts.hooks` to `createLimiter` (or call `observe` from your own
 * `onDecision`). Observing is synchronous and cheap; delivery happens later, off the decision path.
 *
 * @example
 * const alerts = createAlerts({ config: { ops: { type: "webhook", url: "http://127.0.0.1:9099/hook" } }, store });
 * const limiter = createLimiter({ store, limits, hooks: alerts.hooks });
 */
export interface Alerts {
  /** The limiter hooks: decisions, and breaker changes as store_degraded / store_recovered. */
  readonly hooks: Required<Pick<LimiterHooks, "onDecision" | "onStoreError" | "onBreakerChange">>;
  /** Names a limit's `alert` may use (sinks and routes). */
  readonly names: ReadonlySet<string>;
  readonly sinks: readonly Sink[];
  /** Raises the events a decision's alerted limits call for. Never throws. */
  observe(decision: Decision): void;
  storeDegraded(detail?: string): void;
  storeRecovered(): void;
  /** The usage ledger reports a backlog: raised as ledger_backlog once per `everyMs`. */
  ledgerBacklog(report: LedgerBacklogReport): void;
  deliveries(query?: DeliveryQuery): Promise<DeliveryRecord[]>;
  stats(): AlertStats;
  /** Resolves when every delivery so far is delivered or dead, and recorded. */
  drain(): Promise<void>;
  close(graceMs?: number): Promise<void>;
}

/** Parses and checks an `alerts:` section; throws ConfigError naming each bad field. */
export function parseAlertsConfig(input: unknown, prefix = "alerts"): AlertsConfig {
  const issues: Issue[] = [];
  const at = (path: readonly PropertyKey[]) =>
    path.reduce<string>(
      (acc, part) => (typeof part === "number" ? `${acc}[${part}]` : `${acc}.${String(part)}`),
      prefix,
    );
  const outer = alertsConfigSchema.safeParse(input ?? {});
  if (!outer.success) {
    throw new ConfigError(outer.error.issues.map((issue) => ({ path: at(issue.path), message: issue.message })));
  }
  const config: AlertsConfig = {};
  for (const [name, entry] of Object.entries(outer.data)) {
    // A route lists sinks; anything else is a sink. Choosing first keeps errors on the real field.
    const route = typeof entry === "object" && entry !== null && "sinks" in entry;
    const parsed = (route ? routeConfigSchema : sinkConfigSchema).safeParse(entry);
    if (parsed.success) config[name] = parsed.data;
    else {
      for (const issue of parsed.error.issues) {
        const keys = issue.code === "unrecognized_keys" ? issue.keys : [];
        const path = keys.length === 1 ? [name, ...issue.path, keys[0] as string] : [name, ...issue.path];
        issues.push({ path: at(path), message: issue.message });
      }
    }
  }
  issues.push(...routeIssues(outer.data, prefix));
  if (issues.length > 0) throw new ConfigError(issues);
  return config;
}

/** Claims outlive their window a little: store and process clocks differ slightly. */
const LOCAL_CLAIM_GRACE_MS = 5_000;
const CREDENTIALS_IN_URL = /[a-z][a-z0-9+.-]*:\/\/[^\s]+/gi;

/** A store outage as this instance saw it. */
interface Outage {
  /** The store_degraded event's id: this instance's proposal until the board names the open outage's. */
  id: string;
  /** The board answered the opening (or failed: then `local`). */
  settled: boolean;
  /** The board could not be asked: this instance reports the outage and its end alone. */
  local?: boolean;
  recoveredAt?: number;
}

/** ISO strings of recent times: the alerts of a window share its start and end, and often `at`. */
const isoCache = new Map<number, string>();
function iso(ms: number): string {
  let text = isoCache.get(ms);
  if (text === undefined) {
    if (isoCache.size >= 256) isoCache.clear();
    text = new Date(ms).toISOString();
    isoCache.set(ms, text);
  }
  return text;
}

/** The draft of a limit event: routing fields now, the event when the delivery worker builds it. */
function limitEvent(
  key: string,
  candidate: Candidate,
  decision: Decision,
  status: LimitStatus,
  limit: Limit,
  window: { start: number; end: number },
  at: number,
): EventDraft {
  const { category, plan } = decision;
  const { subject, used, limit: threshold } = status;
  return {
    type: candidate.type,
    severity: candidate.severity,
    // One shape for every limit event (absent fields are undefined, which JSON leaves out): no
    // spreads of temporary objects, and V8 keeps one hidden class.
    build: () => ({
      id: eventId(key),
      type: candidate.type,
      time: iso(at),
      severity: candidate.severity,
      subject,
      category,
      plan,
      limit: limit.name,
      mode: limit.mode,
      unit: limit.unit,
      count: used,
      threshold,
      window: { start: iso(window.start), end: iso(window.end) },
      ratio: candidate.ratio,
      projected: candidate.projected,
    }),
  };
}

/** Creates the alerting engine. Validates the config (ConfigError) and builds every sink. */
export function createAlerts(options: AlertsOptions): Alerts {
  const config = parseAlertsConfig(options.config);
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? consoleLogger;
  const metrics = options.metrics ?? noopAlertMetrics;
  const deliveryLog = options.deliveryLog ?? memoryDeliveryLog();
  const post = undiciPoster();
  const instance = options.instance ?? `${process.env.HOSTNAME ?? "local"}:${process.pid}`;
  const minElapsed = options.projectionMinElapsed ?? 0.1;
  const store = options.store;
  const storeName = store?.name ?? "store";
  const queue = new DeliveryQueue(deliveryLog, logger, metrics, () => clock.now(), options.delivery);
  const local = new ClaimTable(clock);
  const board = options.outages ?? localOutageBoard();
  const sharedSync = store?.synchronous === true && store.claimOnce !== undefined;

  const sinks = new Map<string, Sink>();
  for (const [name, entry] of Object.entries(config)) {
    if (!isRoute(entry)) sinks.set(name, createSink(name, entry, { post, logger, now: () => Date.now() }));
  }
  const routes = new Map<string, Sink[]>();
  for (const [name, entry] of Object.entries(config)) {
    routes.set(name, isRoute(entry) ? entry.sinks.map((s) => sinks.get(s) as Sink) : [sinks.get(name) as Sink]);
  }
  const allSinks = [...sinks.values()];
  const warnedRoutes = new Set<string>();
  /** Claims waiting for the store's answer (drain waits for them: they may still enqueue). */
  const claiming = new Set<Promise<void>>();
  let lastClaimWarning = 0;

  /** Hands the event to the queue for the targets that take it; it is built there, later. */
  function dispatch(draft: EventDraft, targets: readonly Sink[]): void {
    let all = true;
    for (const sink of targets) if (!sink.accepts(draft)) all = false;
    // Every target takes it (the usual case): no copy of the route's list.
    queue.enqueue(draft, all ? targets : targets.filter((sink) => sink.accepts(draft)));
  }

  /**
   * Fires `build()` to `targets` if this process and then the shared store both grant the claim.
   * The local table answers repeats without a store round trip; a store that fails to answer
   * leaves the local claim in charge (once per process during an outage).
   */
  function once(key: string, ttlMs: number, draft: EventDraft, targets: readonly Sink[]) {
    // A synchronous store (memory) is this process's own: its claim is the local one.
    if (!sharedSync && !local.claim(key, ttlMs)) return;
    const fire = () => dispatch(draft, targets);
    if (store?.claimOnce === undefined) return fire();
    let answer: boolean | Promise<boolean>;
    try {
      answer = store.claimOnce(key, ttlMs);
    } catch (error) {
      return claimFailed(error, fire);
    }
    if (answer === true) return fire();
    if (answer instanceof Promise) {
      const settled = answer
        .then(
          (won) => {
            if (won) fire();
          },
          (error: unknown) => claimFailed(error, fire),
        )
        .finally(() => claiming.delete(settled));
      claiming.add(settled);
    }
  }

  function claimFailed(error: unknown, fire: () => void) {
    if (clock.now() - lastClaimWarning > 10_000) {
      lastClaimWarning = clock.now();
      logger.warn({ err: error }, "alert deduplication through the store failed; deduplicating per process");
    }
    fire();
  }

  const found: Candidate[] = [];

  function observeLimit(decision: Decision, status: LimitStatus, alert: string, item: DecideItem, at: number) {
    const { limit } = item;
    found.length = 0;
    candidates(limit, status, item.cost, at, { minElapsed }, found);
    if (found.length === 0) return;
    const targets = routes.get(alert);
    if (targets === undefined) {
      queue.stats.unroutable++;
      if (!warnedRoutes.has(alert)) {
        warnedRoutes.add(alert);
        logger.warn({ alert, limit: limit.name }, `limit names alert "${alert}", which is not configured`);
      }
      return;
    }
    const window = windowOf(limit, at);
    const ttl = Math.max(1000, window.end - at) + LOCAL_CLAIM_GRACE_MS;
    for (const candidate of found) {
      // The rule is the counter itself (origin, name, kind, shape) plus the event and its ratio.
      const key = `${candidate.type}|${item.counter}|${candidate.ratio ?? ""}|${status.subject}|${window.start}`;
      once(key, ttl, limitEvent(key, candidate, decision, status, limit, window, at), targets);
    }
  }

  function observe(decision: Decision) {
    // Only a charge can cross anything; the receipt's items line up with `decision.limits`.
    const receipt = decision.receipt;
    if (receipt === undefined) return;
    const items = receipt.items;
    for (let i = 0; i < items.length; i++) {
      const status = decision.limits[i];
      if (status === undefined || status.alert === undefined) continue;
      const alert = status.alert;
      const item = items[i] as DecideItem;
      // Most decisions raise nothing: a few comparisons against the limit's precomputed marks say so.
      const plan = planOf(item.limit);
      if (
        plan.onlyCrossing ? !status.crossed : !mayRaise(plan, status, item.cost, receipt.at, minElapsed, item.limit)
      ) {
        continue;
      }
      try {
        observeLimit(decision, status, alert, item, receipt.at);
      } catch (error) {
        logger.error({ err: error }, "alert evaluation failed; the decision is unaffected");
      }
    }
  }

  let outage: Outage | undefined;
  let lastStoreError: string | undefined;
  const storeSubject = `store:${storeName}`;
  /** Where a recovery goes: the sinks its outage went to (that take store_recovered at all). */
  const storeSinks = allSinks.filter(
    (sink) =>
      sink.accepts({ type: "store_degraded", severity: "critical" }) &&
      sink.accepts({ type: "store_recovered", severity: "critical" }),
  );

  /** Runs `then` with the board's answer, or `failed` if the board fails (drain waits for it). */
  function ask<T>(answer: () => T | Promise<T>, then: (value: T) => void, failed: (error: unknown) => void) {
    let result: T | Promise<T>;
    try {
      result = answer();
    } catch (error) {
      return failed(error);
    }
    if (!(result instanceof Promise)) return then(result);
    const settled: Promise<void> = result.then(then, failed).finally(() => claiming.delete(settled));
    claiming.add(settled);
  }

  function boardFailed(error: unknown) {
    logger.warn({ err: error }, "could not reach the outage board; this instance reports the store outage alone");
  }

  function storeDegraded(detail?: string) {
    if (outage !== undefined) return;
    const now = clock.now();
    const said = (detail ?? lastStoreError)?.replace(CREDENTIALS_IN_URL, "<url>").slice(0, 300);
    const current: Outage = { id: eventId(`store_degraded|${instance}|${storeName}|${now}`), settled: false };
    outage = current;
    const announce = () =>
      dispatch(
        {
          type: "store_degraded",
          severity: "critical",
          build: () => ({
            id: current.id,
            type: "store_degraded",
            time: new Date(now).toISOString(),
            severity: "critical",
            subject: storeSubject,
            instance,
            ...(said ? { detail: said } : {}),
          }),
        },
        allSinks,
      );
    const settle = () => {
      current.settled = true;
      if (current.recoveredAt !== undefined) close(current);
    };
    ask(
      () => board.open(storeSubject, current.id),
      ({ id, opened }) => {
        // Joining an open outage: its id is the one a recovery resolves.
        current.id = id;
        if (opened) announce();
        settle();
      },
      (error) => {
        boardFailed(error);
        current.local = true;
        announce();
        settle();
      },
    );
  }

  function storeRecovered() {
    if (outage === undefined) return;
    const current = outage;
    outage = undefined;
    current.recoveredAt = clock.now();
    // Until the board answers the opening, the outage's id is not known: closing waits for it.
    if (current.settled) close(current);
  }

  function close(current: Outage) {
    const now = current.recoveredAt as number;
    // The recovery goes where the outage went, whatever the sinks' severity floors.
    const announce = () =>
      queue.enqueue(
        {
          type: "store_recovered",
          severity: "info",
          build: () => ({
            id: eventId(`store_recovered|${current.id}`),
            type: "store_recovered",
            time: new Date(now).toISOString(),
            severity: "info",
            subject: storeSubject,
            instance,
            resolves: current.id,
          }),
        },
        storeSinks,
      );
    if (current.local) return announce();
    ask(
      () => board.close(storeSubject, current.id),
      (closed) => {
        if (closed) announce();
      },
      (error) => {
        boardFailed(error);
        announce();
      },
    );
  }

  function ledgerBacklog(report: LedgerBacklogReport) {
    const now = clock.now();
    const every = report.everyMs ?? 900_000;
    const bucket = Math.floor(now / every) * every;
    const key = `ledger_backlog|${bucket}`;
    once(
      key,
      every,
      {
        type: "ledger_backlog",
        severity: "warning",
        build: () => ({
          id: eventId(key),
          type: "ledger_backlog",
          time: new Date(now).toISOString(),
          severity: "warning",
          subject: "ledger",
          pending: report.pending,
          oldestAgeSeconds: Math.round(report.oldestAgeMs / 1000),
          window: { start: new Date(bucket).toISOString(), end: new Date(bucket + every).toISOString() },
        }),
      },
      allSinks,
    );
  }

  return {
    hooks: {
      onDecision: observe,
      onStoreError: (error) => {
        lastStoreError = error instanceof Error ? error.message : String(error);
      },
      onBreakerChange: (state: BreakerState) => {
        if (state === "open") storeDegraded();
        else if (state === "closed") storeRecovered();
      },
    },
    names: new Set(routes.keys()),
    sinks: allSinks,
    observe,
    storeDegraded,
    storeRecovered,
    ledgerBacklog,
    deliveries: async (query) => deliveryLog.list(query),
    stats: () => ({ ...queue.stats }),
    async drain() {
      while (claiming.size > 0) await Promise.all([...claiming]);
      await queue.drain();
    },
    async close(graceMs) {
      await queue.close(graceMs);
      post.close();
    },
  };
}
