import { monitorEventLoopDelay } from "node:perf_hooks";
import type { BreakerState, Decision, Store } from "@tollgate/core";
import type { LedgerStats } from "@tollgate/db";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { DecisionRate } from "./decision-rate.js";

const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, "half-open": 1, open: 2 };

/**
 * Prometheus metrics of one server instance, on its own registry (several servers in one
 * process, as in tests, do not collide). Labels never carry subjects or secrets.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly decisions = new Counter({
    name: "tollgate_decisions_total",
    help: "Decisions by result, reason and category.",
    labelNames: ["result", "reason", "category"] as const,
    registers: [this.registry],
  });
  readonly limitExceeded = new Counter({
    name: "tollgate_limit_exceeded_total",
    help: "Limits found exceeded in a decision, by limit name, mode and category.",
    labelNames: ["limit", "mode", "category"] as const,
    registers: [this.registry],
  });
  readonly subjectMissing = new Counter({
    name: "tollgate_subject_missing_total",
    help: "Limits that applied to a request lacking their subject field, by limit and action (deny, or skip when the limit says whenMissing: skip).",
    labelNames: ["limit", "action", "category"] as const,
    registers: [this.registry],
  });
  readonly degraded = new Counter({
    name: "tollgate_degraded_decisions_total",
    help: "Decisions made without the primary store (failMode or fallback).",
    labelNames: ["category"] as const,
    registers: [this.registry],
  });
  readonly storeErrors = new Counter({
    name: "tollgate_store_errors_total",
    help: "Store calls that failed or timed out, by operation.",
    labelNames: ["operation"] as const,
    registers: [this.registry],
  });
  readonly healthEvents = new Counter({
    name: "tollgate_store_health_events_total",
    help: "Counter-store nodes going degraded (breaker open) or recovering (breaker closed).",
    labelNames: ["event"] as const,
    registers: [this.registry],
  });
  readonly compensations = new Counter({
    name: "tollgate_store_compensations_total",
    help: "Abandoned (timed-out) store calls that charged later and were taken back, by result.",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  readonly storeLatency = new Histogram({
    name: "tollgate_store_duration_seconds",
    help: "Store call latency by operation.",
    labelNames: ["operation"] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    registers: [this.registry],
  });
  readonly httpLatency = new Histogram({
    name: "tollgate_http_request_duration_seconds",
    help: "HTTP request latency by method, route and status code.",
    labelNames: ["method", "route", "status_code"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly breaker: Gauge;
  /** Decisions per minute for the dashboard's live chart. */
  readonly rate: DecisionRate;

  constructor(breakerState: () => BreakerState, now: () => number = Date.now) {
    this.rate = new DecisionRate(now);
    this.breaker = new Gauge({
      name: "tollgate_breaker_state",
      help: "Circuit breaker over the counter store, worst over its nodes: 0 closed, 1 half-open, 2 open.",
      registers: [this.registry],
      collect() {
        this.set(BREAKER_VALUE[breakerState()]);
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: "tollgate_" });
    // These gauges end in _total, which Prometheus reserves for counters (promtool flags them).
    for (const name of [
      "nodejs_active_handles_total",
      "nodejs_active_requests_total",
      "nodejs_active_resources_total",
    ]) {
      this.registry.removeSingleMetric(`tollgate_${name}`);
    }
    this.replaceEventLoopDelayGauges();
  }

  /**
   * prom-client's event-loop delay gauges read a histogram it resets at every scrape, and an
   * empty histogram has a NaN mean and stddev and a min of 9.2e9 s: the first scrape after start,
   * or two scrapes within the sampling interval, exported NaN. Same names, same meaning, from
   * our own histogram, reset only once it has samples; until the first sample, 0.
   */
  private replaceEventLoopDelayGauges() {
    const histogram = monitorEventLoopDelay({ resolution: 10 });
    histogram.enable();
    const stats: [string, string, (h: typeof histogram) => number][] = [
      ["min", "The minimum recorded event loop delay.", (h) => h.min],
      ["max", "The maximum recorded event loop delay.", (h) => h.max],
      ["mean", "The mean of the recorded event loop delays.", (h) => h.mean],
      ["stddev", "The standard deviation of the recorded event loop delays.", (h) => h.stddev],
      ["p50", "The 50th percentile of the recorded event loop delays.", (h) => h.percentile(50)],
      ["p90", "The 90th percentile of the recorded event loop delays.", (h) => h.percentile(90)],
      ["p99", "The 99th percentile of the recorded event loop delays.", (h) => h.percentile(99)],
    ];
    const gauges = stats.map(([stat, help]) => {
      const name = `tollgate_nodejs_eventloop_lag_${stat}_seconds`;
      this.registry.removeSingleMetric(name);
      return new Gauge({ name, help, registers: [this.registry] });
    });
    // One collect sets all seven from the same reading, then starts the next interval.
    (gauges[0] as Gauge & { collect?: () => void }).collect = () => {
      const sampled = histogram.count > 0;
      stats.forEach(([, , read], i) => {
        const value = sampled ? read(histogram) / 1e9 : 0;
        (gauges[i] as Gauge).set(Number.isFinite(value) ? value : 0);
      });
      if (sampled) histogram.reset();
    };
  }

  /** Exposes the usage ledger's writer: backlog, drops, failures, writes. */
  watchLedger(stats: () => LedgerStats) {
    const registers = [this.registry];
    new Gauge({
      name: "tollgate_ledger_pending_rows",
      help: "Aggregated usage rows buffered in memory, not yet written to SQL.",
      registers,
      collect() {
        this.set(stats().pending);
      },
    });
    new Gauge({
      name: "tollgate_ledger_backlog_seconds",
      help: "Age of the oldest usage not yet written to SQL (0 when none).",
      registers,
      collect() {
        this.set(stats().backlogMs / 1000);
      },
    });
    new Gauge({
      name: "tollgate_ledger_degraded",
      help: "1 while ledger writes fail or usage was dropped since the last successful write.",
      registers,
      collect() {
        this.set(stats().degraded ? 1 : 0);
      },
    });
    const counted = (name: string, help: string, read: (s: LedgerStats) => number) => {
      let seen = 0;
      new Counter({
        name,
        help,
        registers,
        collect() {
          const value = read(stats());
          if (value > seen) this.inc(value - seen);
          seen = value;
        },
      });
    };
    counted("tollgate_ledger_written_rows_total", "Usage rows written to SQL.", (s) => s.writtenRows);
    counted("tollgate_ledger_batches_total", "Ledger batches committed.", (s) => s.batches);
    counted("tollgate_ledger_write_failures_total", "Ledger batch writes that failed (retried).", (s) => s.failures);
    counted(
      "tollgate_ledger_dropped_rows_total",
      "Usage rows dropped: buffer full while SQL was down.",
      (s) => s.droppedRows,
    );
  }

  /** The limiter's onDecision hook. */
  recordDecision(decision: Decision, category: string | undefined) {
    const cat = category ?? "none";
    this.decisions.inc({
      result: decision.allowed ? "allowed" : "denied",
      reason: decision.reason ?? "none",
      category: cat,
    });
    if (decision.degraded) this.degraded.inc({ category: cat });
    for (const { limit } of decision.missing ?? []) this.subjectMissing.inc({ limit, action: "deny", category: cat });
    for (const { limit } of decision.skipped ?? []) this.subjectMissing.inc({ limit, action: "skip", category: cat });
    for (const status of decision.limits) {
      if (status.exceeded) this.limitExceeded.inc({ limit: status.name, mode: status.mode, category: cat });
    }
  }

  /** Wraps a store so every call is timed (the limiter's timeout and breaker stay around it). */
  timeStore(store: Store): Store {
    // performance.now() and one prebuilt label object per operation: prom-client's startTimer
    // (hrtime pair, label merge) was a visible slice of a memory-store decision.
    const labels = new Map<string, { operation: string }>();
    const time = <T>(operation: string, call: () => T | Promise<T>): T | Promise<T> => {
      let label = labels.get(operation);
      if (label === undefined) {
        label = { operation };
        labels.set(operation, label);
      }
      const start = performance.now();
      const end = () => this.storeLatency.observe(label, (performance.now() - start) / 1000);
      const result = call();
      if (result instanceof Promise) return result.finally(end);
      end();
      return result;
    };
    const timed: Store = {
      name: store.name,
      // A synchronous store (memory) stays one: the limiter then never times it out and never
      // hands its decisions to the fallback, whose separate counters would let budgets overspend.
      ...(store.synchronous ? { synchronous: true } : {}),
      decide: (request: Parameters<Store["decide"]>[0]) => time("decide", () => store.decide(request)),
      adjust: (items: Parameters<Store["adjust"]>[0]) => time("adjust", () => store.adjust(items)),
      release: (items: Parameters<Store["release"]>[0]) => time("release", () => store.release(items)),
      reset: (items: Parameters<Store["reset"]>[0]) => time("reset", () => store.reset(items)),
    };
    if (store.seed) {
      const seed = store.seed.bind(store);
      timed.seed = (items: Parameters<NonNullable<Store["seed"]>>[0]) => time("seed", () => seed(items));
    }
    if (store.ping) timed.ping = (partition?: string) => store.ping?.(partition) ?? Promise.resolve();
    if (store.partitionsOf) timed.partitionsOf = (refs) => store.partitionsOf?.(refs) ?? [store.name];
    if (store.lastReplyAt) timed.lastReplyAt = (node) => store.lastReplyAt?.(node) ?? Number.NEGATIVE_INFINITY;
    if (store.close) timed.close = () => store.close?.() ?? Promise.resolve();
    return timed;
  }
}
