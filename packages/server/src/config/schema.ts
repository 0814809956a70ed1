import { parseDuration } from "@tollgate/core";
import { z } from "zod";
import { DEFAULT_LOG_BUFFER_BYTES } from "../log-output.js";

/** A duration as people write it (`500ms`, `2s`, `1m`) or milliseconds. */
const duration = z.union([z.string().regex(/^\d+(ms|s|m|h)$/, "a duration such as 500ms, 2s or 1m"), z.number().int()]);

/** Limits are validated by core's parseLimit (same rules as the library); here only their outer shape. */
const limitList = z.array(z.record(z.string(), z.unknown()));

/**
 * The server's configuration file (YAML or JSON). Every field is optional: the embedded
 * default fills the rest. `docs/configuration.md` documents each one.
 */
export const configSchema = z.strictObject({
  server: z
    .strictObject({
      port: z.number().int().min(0).max(65535).default(8080),
      host: z.string().min(1).default("127.0.0.1"),
      /** Largest request body in bytes; larger gets 413. */
      bodyLimit: z.number().int().min(1024).max(10_485_760).default(65_536),
      /** Trust X-Forwarded-For (behind a proxy) for the caller IP used by auth throttling. */
      trustProxy: z.boolean().default(false),
      /** Seconds to wait for in-flight requests at shutdown. */
      shutdownTimeout: z.number().int().min(1).max(600).default(10),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
      /** One line per request (method, route, status, time). Off makes the hot path cheaper. */
      requests: z.boolean().default(true),
      /** While decisions are degraded, one summary line (their count) per this interval. */
      degradedSummaryInterval: duration.default("10s"),
      /**
       * Bytes of log lines held while stdout's reader lags; past it, lines are dropped (counted in
       * tollgate_log_lines_dropped_total) rather than blocking decisions or shutdown.
       */
      bufferBytes: z.number().int().min(65_536).max(1_073_741_824).default(DEFAULT_LOG_BUFFER_BYTES),
    })
    .prefault({}),
  stores: z
    .strictObject({
      redis: z.strictObject({ url: z.string().min(1).optional(), prefix: z.string().optional() }).prefault({}),
      database: z
        .strictObject({
          url: z
            .string()
            .regex(/^postgres(ql)?:\/\//, "a postgres:// URL")
            .optional(),
          dir: z.string().min(1).default("./.tollgate/pglite"),
          /** Postgres: opening a connection. */
          connectTimeout: duration.default("5s"),
          /** Postgres: one statement, enforced by the server (statement_timeout). */
          statementTimeout: duration.default("5s"),
          /** Postgres: one round trip, enforced here (a frozen or cut-off server); default statementTimeout + 1 s. */
          queryTimeout: duration.optional(),
        })
        .prefault({}),
      /** Store call timeout in ms (slower counts as a failure and degrades the decision). */
      timeoutMs: z.number().int().min(1).max(10_000).default(100),
      /** The circuit breaker kept per counter-store node (per master on a Redis Cluster). */
      breaker: z
        .strictObject({
          /** Failures within `window` that open a node's breaker (with the rate and duration below). */
          failureThreshold: z.number().int().min(1).max(10_000).default(5),
          /** Share of the window's calls that must have failed. */
          failureRate: z.number().gt(0).max(1).default(0.5),
          /** Rolling window the failures are weighed over. */
          window: duration.default("1s"),
          /** How long failures must go on with no call succeeding before the breaker opens. */
          failingFor: duration.default("200ms"),
          /** How long an open breaker skips the node before probing it again. */
          coolDown: duration.default("500ms"),
        })
        .prefault({}),
      /** The local fallback that decides `failMode: local` limits while the counter store is unavailable. */
      fallback: z
        .strictObject({
          /** Share (0-1] of each limit one instance enforces during an outage: 1/N for N instances. */
          share: z.number().gt(0).max(1).default(1),
        })
        .prefault({}),
    })
    .prefault({}),
  auth: z
    .strictObject({
      /** A fixed service token (else generated at first start and stored hashed). */
      serviceToken: z.string().min(16).optional(),
      /** A fixed admin token (else generated at first start and stored hashed). */
      adminToken: z.string().min(16).optional(),
      /** Failed authentications allowed per IP per window before 429. */
      failedAttempts: z
        .strictObject({ limit: z.number().int().min(1).default(20), window: duration.default("1m") })
        .prefault({}),
    })
    .prefault({}),
  catalog: z
    .strictObject({
      /** How often each instance polls the catalog version (plans, categories, keys, tokens). */
      pollInterval: duration.default("1s"),
    })
    .prefault({}),
  decisions: z
    .strictObject({
      /** HMAC secret signing decision ids (settle on any instance). Default: generated once, kept in the database. */
      secret: z.string().min(32).optional(),
      /** How long a decision can be settled, in seconds. */
      settleWindow: z.number().int().min(60).max(86_400).default(3600),
    })
    .prefault({}),
  ledger: z
    .strictObject({
      /** Record usage durably and restore calendar quotas from it. Off: nothing is written; quotas restart with the counter store. */
      enabled: z.boolean().default(true),
      /** How often buffered usage is written to SQL; also the most a crash can lose. */
      flushInterval: duration
        .refine((value) => {
          try {
            const ms = typeof value === "number" ? value : parseDuration(value);
            return ms >= 50 && ms <= 3_600_000;
          } catch {
            return false; // 0ms: parseDuration refuses it
          }
        }, "between 50ms and 1h")
        .default("1s"),
      /** Aggregated usage rows held in memory at most while SQL is down (then new rows are dropped and counted). */
      maxPending: z.number().int().min(100).max(10_000_000).default(200_000),
      /** Days of usage kept in the rollups (days, months, quota periods); older rows are deleted hourly. */
      retentionDays: z.number().int().min(1).max(3650).default(400),
      /** Days of hourly rows kept (hourly history, the partial days at a report's edges); at most `retentionDays`. */
      hourlyRetentionDays: z.number().int().min(1).max(3650).default(90),
      /** Longest wait for the ledger when rebuilding a quota counter the store lost, in ms. */
      restoreTimeoutMs: z.number().int().min(10).max(60_000).default(2000),
    })
    .prefault({}),
  dashboard: z
    .strictObject({
      /** How long a dashboard sign-in lasts before the person must sign in again. */
      sessionLifetime: duration.default("8h"),
    })
    .prefault({}),
  /** The LLM gateway (`/gateway/openai/v1`); absent: no gateway routes. See docs/gateway.md. */
  gateway: z
    .strictObject({
      upstreams: z.strictObject({
        /** Any OpenAI-compatible server: its base URL (ending in /v1) and the environment variable holding its key. */
        openai: z.strictObject({
          baseUrl: z.url({ protocol: /^https?$/, error: "an http(s) URL such as https://api.openai.com/v1" }),
          apiKeyEnv: z
            .string()
            .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name")
            .default("OPENAI_API_KEY"),
        }),
      }),
      /** USD per 1M tokens by model; a dated model (gpt-4o-2024-08-06) takes its family's price (gpt-4o). */
      prices: z
        .record(
          z.string().min(1).max(128),
          z.strictObject({
            input: z.number().min(0).max(10_000),
            output: z.number().min(0).max(10_000),
            cachedInput: z.number().min(0).max(10_000).optional(),
          }),
        )
        .default({}),
      /** The category gateway calls are decided in (its limits apply, with the key's plan). */
      category: z.string().min(1).max(64).default("llm_call"),
      /** Output tokens reserved when a request names no max_tokens / max_output_tokens. */
      defaultMaxOutputTokens: z.number().int().min(1).max(1_000_000).default(4096),
      /** A stream passing the caller's budget: `cut` ends it with an error event; `finish` lets it end and records the debt. */
      onBudgetExhausted: z.enum(["cut", "finish"]).default("cut"),
      /** Longest upstream call (a stream included); past it the call is aborted and settled with what it produced. */
      upstreamTimeout: duration.default("10m"),
      /** A reservation never settled (its gateway crashed) is released this long after it was made; longer than upstreamTimeout. */
      reservationTimeout: duration.default("11m"),
      /** How often each instance looks for expired reservations. */
      sweepInterval: duration.default("5s"),
      /** Models each plan may call (and GET /models lists); a plan not named here may call any model. */
      models: z.record(z.string(), z.array(z.string().min(1).max(128))).default({}),
      /** Largest request body in bytes. */
      bodyLimit: z.number().int().min(1024).max(104_857_600).default(10_485_760),
    })
    .refine(
      (gateway) => {
        try {
          const ms = (value: string | number) => (typeof value === "number" ? value : parseDuration(value));
          return ms(gateway.reservationTimeout) > ms(gateway.upstreamTimeout);
        } catch {
          return false;
        }
      },
      { path: ["reservationTimeout"], message: "must be longer than upstreamTimeout" },
    )
    .optional(),
  limits: limitList.optional(),
  plans: z.record(z.string(), z.strictObject({ limits: limitList })).optional(),
  categories: z
    .record(z.string(), z.strictObject({ limits: limitList.default([]), requiredScope: z.string().min(1).optional() }))
    .optional(),
  /** Alert sinks and routes by name; each entry is validated by @tollgate/alerts (see docs/alerts.md). */
  alerts: z.record(z.string(), z.unknown()).optional(),
});

export type ServerConfig = z.output<typeof configSchema>;
export type ServerConfigInput = z.input<typeof configSchema>;
