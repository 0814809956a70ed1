import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import {
  type Clock,
  ConfigError,
  createLimiter,
  InputError,
  memoryStore,
  parseDuration,
  type Store,
  systemClock,
} from "@tollgate/core";
import { type Db, isDatabaseUnavailable, openDb } from "@tollgate/db";
import Fastify, { type FastifyError, LogController } from "fastify";
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  validatorCompiler,
  type ZodTypeProvider,
} from "fastify-type-provider-zod";
import type { DestinationStream, Logger } from "pino";
import { newAlertIssues, openAlerts } from "./alerting.js";
import { AuthThrottle } from "./auth.js";
import { bootstrapTokens, decisionSecret, type FirstStart } from "./bootstrap.js";
import { Catalog, seedCatalog } from "./catalog.js";
import { joinPath } from "./config/load.js";
import type { ServerConfig } from "./config/schema.js";
import type { ServerContext } from "./context.js";
import { UnknownNameError } from "./decide.js";
import { clientErrorHandler, frameworkErrors, installEdge } from "./edge.js";
import { gatewayRoutes } from "./gateway/routes.js";
import { openLedger } from "./ledger.js";
import { LogOutput } from "./log-output.js";
import { createLogger, registerLogDropMetric } from "./logger.js";
import { Metrics } from "./metrics.js";
import { DOCUMENT_INFO, finishDocument, SECURITY_SCHEMES } from "./openapi/document.js";
import { toOpenApi30 } from "./openapi/downgrade.js";
import { PROBLEMS, problem, sendProblem } from "./problem.js";
import { alertRoutes } from "./routes/admin/alerts.js";
import { auditRoutes } from "./routes/admin/audit.js";
import { counterRoutes } from "./routes/admin/counters.js";
import { keyRoutes } from "./routes/admin/keys.js";
import { planRoutes } from "./routes/admin/plans.js";
import { reportRoutes } from "./routes/admin/reports.js";
import { statsRoutes } from "./routes/admin/stats.js";
import { tokenRoutes } from "./routes/admin/tokens.js";
import { adminUsageRoutes } from "./routes/admin/usage.js";
import { checkRoutes } from "./routes/check.js";
import { dashboardRoutes } from "./routes/dashboard.js";
import { opsRoutes } from "./routes/ops.js";
import { problemRoutes } from "./routes/problems.js";
import { sessionRoutes } from "./routes/session.js";
import { settleRoutes } from "./routes/settle.js";
import type { App } from "./routes/types.js";
import { usageRoutes } from "./routes/usage.js";
import { Sessions } from "./session.js";
import { StoreHealthLog } from "./store-health.js";

export interface CreateServerOptions {
  config: ServerConfig;
  /** Time for the limiter and the memory store (tests inject core's manualClock). */
  clock?: Clock;
  /** A counter store to use instead of the configured one (tests). */
  store?: Store;
  /** An open database to share (tests running several instances on one PGlite). */
  db?: Db;
  /** Where JSON logs go (default stdout, through a bounded buffer that drops rather than blocks). */
  logDestination?: DestinationStream;
}

/** A built server: the Fastify app (inject or listen), its shared context, and first-start tokens. */
export interface TollgateServer {
  app: App;
  ctx: ServerContext;
  log: Logger;
  firstStart: FirstStart;
  /** Drains HTTP, stops the catalog poll, closes the store and (if owned) the database. */
  close(): Promise<void>;
}

const ms = (value: string | number) => (typeof value === "number" ? value : parseDuration(value));
/** Seconds a client should wait before retrying a write the database could not take. */
const DATABASE_RETRY_AFTER = 2;

/**
 * The configured counter store: Redis or memory. @tollgate/redis (and its client) is imported
 * only when configured, so the embedded default never loads it; the import is still typed, so
 * the compiler checks this call against the store's real options.
 */
async function openStore(config: ServerConfig, clock: Clock, log: Logger): Promise<Store> {
  const url = config.stores.redis.url;
  if (!url) return memoryStore({ clock });
  const { redisStore } = await import("@tollgate/redis");
  const nodes = url.includes(",") ? url.split(",").map((n) => n.trim()) : undefined;
  const prefix = config.stores.redis.prefix;
  log.info({ redis: nodes ? `cluster of ${nodes.length} nodes` : "single node" }, "counter store: redis");
  return redisStore({ ...(nodes ? { nodes } : { url }), ...(prefix ? { prefix } : {}) });
}

/** Maps an error to the problem it answers; never lets a bad request become a 5xx. */
function errorProblem(error: FastifyError) {
  if (hasZodFastifySchemaValidationErrors(error)) {
    const issues = error.validation.map((v) => {
      const segments = v.instancePath
        .split("/")
        .filter(Boolean)
        .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
      const keys = (v.params as { keys?: string[] }).keys;
      const path = joinPath(keys?.length ? [...segments, keys[0] as string] : segments);
      const where = error.validationContext === "body" ? "" : `${error.validationContext} `;
      return { path: path || (error.validationContext ?? "body"), message: `${where}${v.message}` };
    });
    const first = issues[0] as { path: string; message: string };
    return problem(PROBLEMS.validationFailed, `${first.path}: ${first.message}`, { field: first.path, issues });
  }
  if (error instanceof InputError || error instanceof UnknownNameError) {
    return problem(
      400,
      error.message.startsWith(`${error.field}:`) ? error.message : `${error.field}: ${error.message}`,
      {
        field: error.field,
      },
    );
  }
  if (error instanceof ConfigError)
    return problem(PROBLEMS.validationFailed, error.message, { issues: [...error.issues] });
  switch (error.code) {
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return problem(PROBLEMS.malformedBody, `body: ${error.message}. Send a JSON object.`, { field: "body" });
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return problem(PROBLEMS.payloadTooLarge, "body: larger than this server accepts (server.bodyLimit).", {
        field: "body",
      });
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return problem(PROBLEMS.unsupportedMediaType, "Send the body as application/json.", { field: "content-type" });
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) return problem(status, error.message, { field: "body" });
  return undefined;
}

/**
 * Builds a Tollgate server from a validated configuration: opens and migrates the database,
 * seeds the catalog, creates first-start tokens, opens the counter store and registers every
 * route. Call `app.listen()` to serve, or `app.inject()` in tests.
 *
 * @example
 * const { config } = loadConfig();
 * const server = await createServer({ config });
 * await server.app.listen({ port: config.server.port, host: config.server.host });
 */
export async function createServer(options: CreateServerOptions): Promise<TollgateServer> {
  const { config } = options;
  const clock = options.clock ?? systemClock;
  const logOutput = options.logDestination ?? new LogOutput(process.stdout, config.log.bufferBytes);
  const log = createLogger(config.log.level, logOutput);
  const ownsDb = options.db === undefined;
  const database = config.stores.database;
  const db =
    options.db ??
    (await openDb(
      database.url
        ? {
            url: database.url,
            timeouts: {
              connectMs: ms(database.connectTimeout),
              statementMs: ms(database.statementTimeout),
              ...(database.queryTimeout !== undefined ? { queryMs: ms(database.queryTimeout) } : {}),
            },
          }
        : { dir: database.dir },
    ));
  log.info(
    {
      database: db.kind,
      ...(db.kind === "pglite" ? { dir: config.stores.database.dir } : {}),
      applied: db.applied,
    },
    db.applied.length > 0 ? `database migrations applied: ${db.applied.join(", ")}` : "database schema up to date",
  );
  const seeded = await seedCatalog(db.kysely, config);
  if (seeded.length > 0) log.info({ seeded }, "catalog seeded from configuration");
  const firstStart = await bootstrapTokens(db.kysely, config.auth);
  const secret = await decisionSecret(db.kysely, config.decisions.secret);

  const rawStore = options.store ?? (await openStore(config, clock, log));
  let limiterRef: { breakerState: "closed" | "open" | "half-open" } | undefined;
  const metrics = new Metrics(
    () => limiterRef?.breakerState ?? "closed",
    () => clock.now(),
  );
  registerLogDropMetric(metrics.registry, logOutput);
  // Claims go to the raw store: the same counters every instance shares, without the timing wrapper.
  const alerts = await openAlerts({ config, db, store: rawStore, registry: metrics.registry, log });
  let healthLog: StoreHealthLog | undefined;
  const { breaker, fallback } = config.stores;
  let catalogRef: Catalog | undefined;
  const ledger = openLedger(
    config,
    db,
    () => catalogRef,
    metrics,
    log,
    (report) => alerts.ledgerBacklog(report),
    clock,
  );
  const limiter = createLimiter({
    store: metrics.timeStore(rawStore),
    clock,
    timeoutMs: config.stores.timeoutMs,
    breaker: {
      failureThreshold: breaker.failureThreshold,
      failureRate: breaker.failureRate,
      windowMs: ms(breaker.window),
      failingForMs: ms(breaker.failingFor),
      coolDownMs: ms(breaker.coolDown),
    },
    fallbackShare: fallback.share,
    usage: ledger.observer,
    restoreTimeoutMs: config.ledger.restoreTimeoutMs,
    limits: [],
    hooks: {
      onDecision: (decision, input) => {
        metrics.recordDecision(decision, input.category);
        alerts.hooks.onDecision(decision, input);
        if (decision.degraded) healthLog?.degraded();
        // Peeks (usage views, the dashboard's own polling) are not traffic.
        if (!input.dryRun && input.cost !== 0) metrics.rate.record(decision);
      },
      // Counted, not logged: the health log says it once per outage (see StoreHealthLog).
      onStoreError: (error, operation) => {
        metrics.storeErrors.inc({ operation });
        alerts.hooks.onStoreError(error, operation);
      },
      // One event per node going degraded or recovering (not per breaker trial): alerts and metrics.
      onHealthChange: (event) => {
        metrics.healthEvents.inc({ event: event.type });
        if (event.type === "store_degraded") alerts.storeDegraded(`node ${event.partition}: ${event.error ?? ""}`);
        else alerts.storeRecovered();
      },
      onCompensation: ({ applied }) => metrics.compensations.inc({ result: applied ? "applied" : "failed" }),
    },
  });
  limiterRef = limiter;
  healthLog = new StoreHealthLog(limiter, log, ms(config.log.degradedSummaryInterval));
  const store = rawStore;
  const settleGuard = createLimiter({
    store: metrics.timeStore(rawStore),
    clock,
    breaker: false,
    limits: [
      {
        name: "settle-once",
        per: "key",
        algorithm: "fixed-window",
        limit: 1,
        window: (config.decisions.settleWindow + 60) * 1000,
      },
    ],
  });
  // One WARN when the catalog poll starts failing (database down), one INFO when it works again.
  let catalogFailures = 0;
  const catalog = new Catalog(db, limiter, config.limits, (error) => {
    if (catalogFailures++ === 0) {
      log.warn(
        { event: "catalog_poll_failing", error: error instanceof Error ? error.message : String(error) },
        "catalog poll failed: serving the catalog in memory until the database answers again",
      );
    }
  });
  catalog.onPolled = () => {
    if (catalogFailures === 0) return;
    log.info({ event: "catalog_poll_recovered", failedPolls: catalogFailures }, "catalog poll works again");
    catalogFailures = 0;
  };
  catalog.extraChecks = (before, after) => newAlertIssues(before, after, alerts.names);
  catalogRef = catalog;
  if (config.auth.adminToken) catalog.addStaticToken(config.auth.adminToken, "admin", "env-admin");
  if (config.auth.serviceToken) catalog.addStaticToken(config.auth.serviceToken, "service", "env-service");
  await catalog.reload();
  catalog.startPolling(ms(config.catalog.pollInterval));

  const ctx: ServerContext = {
    config,
    db,
    store,
    limiter,
    settleGuard,
    catalog,
    alerts,
    metrics,
    ledger,
    throttle: new AuthThrottle(config.auth.failedAttempts.limit, config.auth.failedAttempts.window, clock),
    clock,
    decisionSecrets: [secret],
    sessions: new Sessions(secret, ms(config.dashboard.sessionLifetime), () => clock.now()),
  };

  const app = Fastify({
    loggerInstance: log,
    bodyLimit: config.server.bodyLimit,
    trustProxy: config.server.trustProxy,
    logController: new LogController({ disableRequestLogging: !config.log.requests }),
    // Identifiers are capped at 256 characters; a longer URL is not a request we serve.
    routerOptions: { maxParamLength: 256 },
    forceCloseConnections: "idle",
    frameworkErrors,
    clientErrorHandler,
    // Node answers a Host-less HTTP/1.1 request with a bare 400; edge.ts answers it as a problem.
    http: { requireHostHeader: false },
  }).withTypeProvider<ZodTypeProvider>() as unknown as App;
  installEdge(app);
  app.setValidatorCompiler(validatorCompiler);
  // Responses are built by this code from typed values: plain JSON.stringify keeps the hot path
  // fast, while the same zod response schemas still document every answer in /openapi.json.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  await app.register(fastifySwagger, {
    // info, servers, security, tags and problem responses are completed by finishDocument.
    openapi: { openapi: "3.1.0", info: DOCUMENT_INFO, components: { securitySchemes: SECURITY_SCHEMES } },
    transform: jsonSchemaTransform,
    transformObject: (input) => finishDocument(jsonSchemaTransformObject(input)),
  });
  await app.register(fastifySwaggerUi, { routePrefix: "/docs" });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const body = errorProblem(error);
    if (body) return sendProblem(reply, body);
    if (isDatabaseUnavailable(error)) {
      // The database is down or stalled: a temporary condition, said as such (no stack).
      request.log.warn({ error: error.message, code: error.code }, "database unavailable; request answered 503");
      reply.header("retry-after", String(DATABASE_RETRY_AFTER));
      return sendProblem(
        reply,
        problem(
          PROBLEMS.serviceUnavailable,
          "The database is unavailable or too slow; the change was most likely not applied. Retry after " +
            "Retry-After; send creates with an Idempotency-Key so that a retry never creates twice.",
          { retryAfter: DATABASE_RETRY_AFTER },
        ),
      );
    }
    // The error serializer (logger.ts) drops driver fields such as SQL parameters.
    request.log.error({ err: error }, "unhandled error");
    return sendProblem(
      reply,
      problem(PROBLEMS.internalError, "Internal error; it has been logged. Retry, and report it if it persists."),
    );
  });
  app.addHook("onResponse", (request, reply, done) => {
    ctx.metrics.httpLatency.observe(
      { method: request.method, route: request.routeOptions.url ?? "unmatched", status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    done();
  });

  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  let openapi30: unknown;
  app.get("/openapi-3.0.json", { schema: { hide: true } }, async () => {
    openapi30 ??= toOpenApi30(app.swagger());
    return openapi30;
  });
  opsRoutes(app, ctx);
  problemRoutes(app);
  checkRoutes(app, ctx);
  settleRoutes(app, ctx);
  usageRoutes(app, ctx);
  planRoutes(app, ctx);
  keyRoutes(app, ctx);
  tokenRoutes(app, ctx);
  counterRoutes(app, ctx);
  adminUsageRoutes(app, ctx);
  reportRoutes(app, ctx);
  auditRoutes(app, ctx);
  alertRoutes(app, ctx);
  statsRoutes(app, ctx);
  sessionRoutes(app, ctx);
  await gatewayRoutes(app, ctx, parseDuration);
  await dashboardRoutes(app);
  await app.ready();

  let closed: Promise<void> | undefined;
  return {
    app,
    ctx,
    log,
    firstStart,
    close() {
      closed ??= (async () => {
        catalog.stopPolling();
        healthLog?.stop();
        // Fastify closes the connections idle when closing starts; a keep-alive connection busy
        // then would hold shutdown for its keep-alive timeout (72 s), past shutdownTimeout, and
        // the ledger would not be flushed. Close each one as soon as its last answer is sent.
        const sweeper = setInterval(() => app.server.closeIdleConnections?.(), 50);
        sweeper.unref();
        try {
          await app.close();
        } finally {
          clearInterval(sweeper);
        }
        // Sends in flight get a moment; their records are written before the database closes.
        await alerts.close();
        // Every decision has answered: write the usage still buffered before the database closes.
        await ledger
          .close()
          .catch((error: unknown) => log.error({ err: error }, "usage ledger not fully written at shutdown"));
        await store.close?.();
        if (ownsDb) await db.close();
        log.flush?.();
      })();
      return closed;
    },
  };
}
