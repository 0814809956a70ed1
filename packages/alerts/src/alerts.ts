import {
  type BreakerState,
  ClaimTable,
  type Clock,
  ConfigError,
  type DecideItem,
  type Decision,
  type Issue,
  type LimiterHooks,
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
import { deliveryId, eventId } from "./ids.js";
import { type AlertLogger, consoleLogger } from "./logger.js";
import { type AlertMetrics, type AlertStats, noopAlertMetrics } from "./metrics.js";
import { type DeliveryOptions, DeliveryQueue } from "./queue.js";
import { type Candidate, candidates, windowOf } from "./rules.js";
import { nodePoster } from "./sinks/http.js";
import { createSink, type Sink } from "./sinks/index.js";
import type { AlertEvent } from "./types.js";

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
  /** Names this process in store events (a store outage is seen by each instance). Default host:pid. */
  instance?: string;
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

/** Creates the alerting engine. Validates the config (ConfigError) and builds every sink. */
export function createAlerts(options: AlertsOptions): Alerts {
  const config = parseAlertsConfig(options.config);
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? consoleLogger;
  const metrics = options.metrics ?? noopAlertMetrics;
  const deliveryLog = options.deliveryLog ?? memoryDeliveryLog();
  const post = nodePoster();
  const instance = options.instance ?? `${process.env.HOSTNAME ?? "local"}:${process.pid}`;
  const minElapsed = options.projectionMinElapsed ?? 0.1;
  const store = options.store;
  const storeName = store?.name ?? "store";
  const queue = new DeliveryQueue(deliveryLog, logger, metrics, () => clock.now(), options.delivery);
  const local = new ClaimTable(clock);
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

  function dispatch(event: AlertEvent, targets: readonly Sink[]): Sink[] {
    const taken: Sink[] = [];
    for (const sink of targets) {
      if (!sink.accepts(event)) continue;
      taken.push(sink);
      queue.enqueue(event, sink, deliveryId(event.id, sink.name));
    }
    queue.stats.events++;
    metrics.event(event.type);
    return taken;
  }

  /**
   * Fires `build()` to `targets` if this process and then the shared store both grant the claim.
   * The local table answers repeats without a store round trip; a store that fails to answer
   * leaves the local claim in charge (once per process during an outage).
   */
  function once(key: string, ttlMs: number, build: () => AlertEvent, targets: readonly Sink[]) {
    // A synchronous store (memory) is this process's own: its claim is the local one.
    if (!sharedSync && !local.claim(key, ttlMs)) return;
    const fire = () => dispatch(build(), targets);
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

  function observeLimit(decision: Decision, index: number, item: DecideItem, at: number) {
    const status = decision.limits[index];
    if (status === undefined || status.alert === undefined) return;
    const { limit } = item;
    found.length = 0;
    candidates(limit, status, item.cost, at, { minElapsed }, found);
    if (found.length === 0) return;
    const targets = routes.get(status.alert);
    if (targets === undefined) {
      queue.stats.unroutable++;
      if (!warnedRoutes.has(status.alert)) {
        warnedRoutes.add(status.alert);
        logger.warn(
          { alert: status.alert, limit: limit.name },
          `limit names alert "${status.alert}", which is not configured`,
        );
      }
      return;
    }
    const window = windowOf(limit, at);
    const ttl = Math.max(1000, window.end - at) + LOCAL_CLAIM_GRACE_MS;
    for (const candidate of found) {
      // The rule is the counter itself (origin, name, kind, shape) plus the event and its ratio.
      const key = `${candidate.type}|${item.counter}|${candidate.ratio ?? ""}|${status.subject}|${window.start}`;
      const { category, plan } = decision;
      once(
        key,
        ttl,
        () => ({
          id: eventId(key),
          type: candidate.type,
          time: new Date(at).toISOString(),
          severity: candidate.severity,
          subject: status.subject,
          ...(category !== undefined ? { category } : {}),
          ...(plan !== undefined ? { plan } : {}),
          limit: limit.name,
          mode: limit.mode,
          unit: limit.unit,
          count: status.used,
          threshold: status.limit,
          window: { start: new Date(window.start).toISOString(), end: new Date(window.end).toISOString() },
          ...(candidate.ratio !== undefined ? { ratio: candidate.ratio } : {}),
          ...(candidate.projected !== undefined ? { projected: candidate.projected } : {}),
        }),
        targets,
      );
    }
  }

  function observe(decision: Decision) {
    // Only a charge can cross anything; the receipt's items line up with `decision.limits`.
    const receipt = decision.receipt;
    if (receipt === undefined) return;
    const items = receipt.items;
    for (let i = 0; i < items.length; i++) {
      if (decision.limits[i]?.alert === undefined) continue;
      try {
        observeLimit(decision, i, items[i] as DecideItem, receipt.at);
      } catch (error) {
        logger.error({ err: error }, "alert evaluation failed; the decision is unaffected");
      }
    }
  }

  let outage: { event: AlertEvent; sinks: Sink[] } | undefined;
  let lastStoreError: string | undefined;

  function storeDegraded(detail?: string) {
    if (outage !== undefined) return;
    const now = clock.now();
    const key = `store_degraded|${instance}|${storeName}|${now}`;
    const said = detail ?? lastStoreError;
    const event: AlertEvent = {
      id: eventId(key),
      type: "store_degraded",
      time: new Date(now).toISOString(),
      severity: "critical",
      subject: `store:${storeName}`,
      instance,
      ...(said ? { detail: said.replace(CREDENTIALS_IN_URL, "<url>").slice(0, 300) } : {}),
    };
    outage = { event, sinks: dispatch(event, allSinks) };
  }

  function storeRecovered() {
    if (outage === undefined) return;
    const { event: degraded, sinks: notified } = outage;
    outage = undefined;
    const now = clock.now();
    const event: AlertEvent = {
      id: eventId(`store_recovered|${degraded.id}`),
      type: "store_recovered",
      time: new Date(now).toISOString(),
      severity: "info",
      subject: degraded.subject,
      instance,
      resolves: degraded.id,
    };
    // The recovery goes where the outage went, whatever the sinks' severity floors.
    const targets = notified.filter((sink) => sink.accepts({ ...event, severity: "critical" }));
    for (const sink of targets) queue.enqueue(event, sink, deliveryId(event.id, sink.name));
    queue.stats.events++;
    metrics.event(event.type);
  }

  function ledgerBacklog(report: LedgerBacklogReport) {
    const now = clock.now();
    const every = report.everyMs ?? 900_000;
    const bucket = Math.floor(now / every) * every;
    const key = `ledger_backlog|${bucket}`;
    once(
      key,
      every,
      () => ({
        id: eventId(key),
        type: "ledger_backlog",
        time: new Date(now).toISOString(),
        severity: "warning",
        subject: "ledger",
        pending: report.pending,
        oldestAgeSeconds: Math.round(report.oldestAgeMs / 1000),
        window: { start: new Date(bucket).toISOString(), end: new Date(bucket + every).toISOString() },
      }),
      allSinks,
    );
  }

  return {
    hooks: {
      onDecision: (decision) => observe(decision),
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
