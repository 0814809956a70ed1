import {
  type AlertMetrics,
  type Alerts,
  createAlerts,
  type DeliveryLog,
  type DeliveryQuery,
  type DeliveryRecord,
  type DeliveryStatus,
  isRoute,
  type OutageBoard,
  parseAlertsConfig,
  unknownAlertIssues,
} from "@tollgate/alerts";
import type { Issue, LimitsConfig, Store } from "@tollgate/core";
import type { Db } from "@tollgate/db";
import type { Logger } from "pino";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { ServerConfig } from "./config/schema.js";

/** Delivery records older than this are pruned at start-up. */
const RETENTION_DAYS = 30;

const iso = (value: Date | string | null) => (value === null ? undefined : new Date(value).toISOString());

/** The delivery log in the SQL database: every instance's deliveries in one list. */
export function sqlDeliveryLog(
  db: Db,
): DeliveryLog & { before(updatedAt: string, query: DeliveryQuery): Promise<DeliveryRecord[]> } {
  const list = async (query: DeliveryQuery = {}, before?: string) => {
    let select = db.kysely
      .selectFrom("alert_deliveries")
      .selectAll()
      .orderBy("updated_at", "desc")
      .orderBy("id", "desc")
      .limit(query.limit ?? 100);
    if (query.status) select = select.where("status", "=", query.status);
    if (query.type) select = select.where("type", "=", query.type);
    if (query.sink) select = select.where("sink", "=", query.sink);
    if (before) select = select.where("updated_at", "<", new Date(before));
    const rows = await select.execute();
    return rows.map(
      (row): DeliveryRecord => ({
        id: row.id,
        eventId: row.event_id,
        type: row.type as DeliveryRecord["type"],
        subject: row.subject,
        sink: row.sink,
        sinkType: row.sink_type,
        target: row.target,
        status: row.status as DeliveryStatus,
        attempts: row.attempts,
        ...(row.last_error !== null ? { lastError: row.last_error } : {}),
        ...(row.last_status !== null ? { lastStatus: row.last_status } : {}),
        createdAt: iso(row.created_at) as string,
        updatedAt: iso(row.updated_at) as string,
        ...(row.next_attempt_at !== null ? { nextAttemptAt: iso(row.next_attempt_at) } : {}),
        event: row.event as unknown as DeliveryRecord["event"],
      }),
    );
  };
  return {
    async record(record) {
      const row = {
        status: record.status,
        attempts: record.attempts,
        last_error: record.lastError ?? null,
        last_status: record.lastStatus ?? null,
        next_attempt_at: record.nextAttemptAt ?? null,
        updated_at: record.updatedAt,
      };
      await db.kysely
        .insertInto("alert_deliveries")
        .values({
          id: record.id,
          event_id: record.eventId,
          type: record.type,
          subject: record.subject,
          sink: record.sink,
          sink_type: record.sinkType,
          target: record.target,
          created_at: record.createdAt,
          event: JSON.stringify(record.event),
          ...row,
        })
        .onConflict((oc) => oc.column("id").doUpdateSet(row))
        .execute();
    },
    list: (query) => list(query),
    before: (updatedAt, query) => list(query, updatedAt),
  };
}

/**
 * Store outages agreed on in the SQL database, which every instance shares: the first instance
 * to see the counter store fail opens the outage and reports it, the others join it; the first
 * to see the store answer again closes it and reports the recovery. One statement each, atomic
 * in Postgres and PGlite alike.
 */
export function sqlOutageBoard(db: Db): OutageBoard {
  return {
    async open(subject, id) {
      const opened = await db.kysely
        .insertInto("alert_outages")
        .values({ subject, id, opened_at: new Date(), closed_at: null })
        .onConflict((oc) =>
          oc
            .column("subject")
            .doUpdateSet((eb) => ({
              id: eb.ref("excluded.id"),
              opened_at: eb.ref("excluded.opened_at"),
              closed_at: null,
            }))
            .where("alert_outages.closed_at", "is not", null),
        )
        .returning("id")
        .executeTakeFirst();
      if (opened !== undefined) return { id: opened.id, opened: true };
      const current = await db.kysely
        .selectFrom("alert_outages")
        .select("id")
        .where("subject", "=", subject)
        .executeTakeFirstOrThrow();
      return { id: current.id, opened: false };
    },
    async close(subject, id) {
      const closed = await db.kysely
        .updateTable("alert_outages")
        .set({ closed_at: new Date() })
        .where("subject", "=", subject)
        .where("id", "=", id)
        .where("closed_at", "is", null)
        .returning("id")
        .executeTakeFirst();
      return closed !== undefined;
    },
  };
}

/** Alert counters on the server's Prometheus registry. Labels: sink names and event types only. */
export function promAlertMetrics(registry: Registry): AlertMetrics {
  const events = new Counter({
    name: "tollgate_alert_events_total",
    help: "Alert events raised (after deduplication), by type.",
    labelNames: ["type"] as const,
    registers: [registry],
  });
  const deliveries = new Counter({
    name: "tollgate_alert_deliveries_total",
    help: "Alert delivery outcomes by sink, event type and outcome (delivered, retried, dead, dropped).",
    labelNames: ["sink", "type", "outcome"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "tollgate_alert_delivery_duration_seconds",
    help: "Time of one alert delivery try, by sink.",
    labelNames: ["sink"] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const depth = new Gauge({
    name: "tollgate_alert_queue_depth",
    help: "Alert deliveries held: queued, in flight or waiting to retry.",
    registers: [registry],
  });
  return {
    event: (type) => events.inc({ type }),
    delivery: (sink, type, outcome) => deliveries.inc({ sink, type, outcome }),
    attempt: (sink, seconds) => duration.observe({ sink }, seconds),
    queueDepth: (n) => depth.set(n),
  };
}

/**
 * The server's alerting: the configured sinks, claims through the counter store, the delivery log
 * in SQL, metrics on the server's registry and the server's logger.
 */
export async function openAlerts(options: {
  config: ServerConfig;
  db: Db;
  store: Store;
  registry: Registry;
  log: Logger;
}): Promise<Alerts> {
  const { db, log } = options;
  const deliveryLog = sqlDeliveryLog(db);
  await db.kysely
    .deleteFrom("alert_deliveries")
    .where("updated_at", "<", new Date(Date.now() - RETENTION_DAYS * 86_400_000))
    .execute()
    .catch((error: unknown) => log.warn({ err: error }, "could not prune old alert deliveries"));
  const alerts = createAlerts({
    config: parseAlertsConfig(options.config.alerts ?? {}),
    store: options.store,
    logger: log.child({ component: "alerts" }),
    deliveryLog,
    outages: sqlOutageBoard(db),
    metrics: promAlertMetrics(options.registry),
  });
  const sinks = alerts.sinks.map((s) => `${s.name} (${s.type} ${s.target}, ${s.severity} and up)`);
  if (sinks.length > 0) log.info({ sinks }, "alert sinks ready");
  return alerts;
}

/**
 * Limits whose `alert` names no sink, introduced by `after` (issues already present in `before`,
 * e.g. a catalog row from before a sink was removed, do not block unrelated writes).
 */
export function newAlertIssues(before: LimitsConfig, after: LimitsConfig, names: ReadonlySet<string>): Issue[] {
  const existing = new Set(unknownAlertIssues(before as never, names).map((i) => i.path));
  return unknownAlertIssues(after as never, names).filter((i) => !existing.has(i.path));
}

/** What `GET /v1/admin/alerts` shows of the configuration: names, types, redacted targets. */
export function describeSinks(alerts: Alerts, config: ServerConfig) {
  const routes = Object.entries(parseAlertsConfig(config.alerts ?? {}))
    .filter(([, entry]) => isRoute(entry))
    .map(([name, entry]) => ({ name, sinks: (entry as { sinks: string[] }).sinks }));
  return {
    sinks: alerts.sinks.map((s) => ({ name: s.name, type: s.type, target: s.target, severity: s.severity })),
    routes,
  };
}
