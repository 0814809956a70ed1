import { type Clock, noopUsageObserver, parseDuration, systemClock, type UsageObserver } from "@tollgate/core";
import { createLedger, type Db, type Ledger, LedgerReports } from "@tollgate/db";
import type { Logger } from "pino";
import type { Catalog } from "./catalog.js";
import type { ServerConfig } from "./config/schema.js";
import type { Metrics } from "./metrics.js";

/** The usage ledger as the server runs it: the writer, the observer the limiter feeds, the reports. */
export interface ServerLedger {
  /** Absent when `ledger.enabled` is false. */
  writer?: Ledger;
  observer: UsageObserver;
  reports: LedgerReports;
  /** Readiness detail: `ok`, `degraded: ...` or `disabled`. */
  status(): string;
  close(): Promise<void>;
}

const ms = (value: string | number) => (typeof value === "number" ? value : parseDuration(value));

/**
 * Opens the ledger writer on the catalog database. A key with per-key overrides decides under an
 * internal plan (`key.<id>`): the ledger records the key's own plan name instead, as people know it.
 */
/** Age of unwritten usage that raises a `ledger_backlog` alert. */
const LEDGER_BACKLOG_ALERT_MS = 5_000;

export function openLedger(
  config: ServerConfig,
  db: Db,
  catalog: () => Catalog | undefined,
  metrics: Metrics,
  log: Logger,
  onBacklog: (report: { pending: number; oldestAgeMs: number }) => void = () => {},
  clock: Clock = systemClock,
): ServerLedger {
  const reports = new LedgerReports(db.kysely);
  if (!config.ledger.enabled) {
    return { observer: noopUsageObserver, reports, status: () => "disabled", close: async () => {} };
  }
  const writer = createLedger(db.kysely, {
    flushIntervalMs: ms(config.ledger.flushInterval),
    maxPending: config.ledger.maxPending,
    retentionDays: config.ledger.retentionDays,
    hourlyRetentionDays: config.ledger.hourlyRetentionDays,
    // Retention follows the server's clock (a test's manual clock moves it).
    now: () => clock.now(),
    onError: (error, stats) => {
      log.error(
        { err: error, pending: stats.pending, backlogMs: stats.backlogMs, dropped: stats.droppedRows },
        "usage ledger write failed; usage is buffered in memory and retried",
      );
      // A single failed flush is a blip; a backlog older than a few intervals is worth an alert
      // (the alerts deduplicate it to one event per interval across instances).
      if (stats.backlogMs >= LEDGER_BACKLOG_ALERT_MS)
        onBacklog({ pending: stats.pending, oldestAgeMs: stats.backlogMs });
    },
    onRecover: (stats) => log.warn({ pending: stats.pending }, "usage ledger writes recovered; backlog draining"),
  });
  metrics.watchLedger(() => writer.stats());
  const planName = (plan: string | undefined) => {
    if (plan === undefined || !plan.startsWith("key.")) return plan;
    return catalog()?.keysById.get(plan.slice(4))?.plan ?? plan;
  };
  const observer: UsageObserver = {
    record: (ref, quantity, at, plan, category) => writer.record(ref, quantity, at, planName(plan), category),
    usedBetween: (counter, subject, from, to) => writer.usedBetween(counter, subject, from, to),
  };
  return {
    writer,
    observer,
    reports,
    status() {
      const stats = writer.stats();
      if (!stats.degraded) return "ok";
      const parts = [`${stats.pending} usage rows buffered`, `oldest ${Math.round(stats.backlogMs / 1000)} s`];
      if (stats.droppedRows > 0) parts.push(`${stats.droppedRows} rows dropped (buffer full)`);
      if (stats.lastError) parts.push(`last error: ${stats.lastError}`);
      return `degraded: ${parts.join(", ")}`;
    },
    close: () => writer.close(Math.max(1000, config.server.shutdownTimeout * 1000 - 1000)),
  };
}
