import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { type CompiledLimit, type Decision, MICRO_USD_PER_USD, rateLimitHeaders } from "@tollgate/core";
import {
  type CallEstimate,
  callAllowance,
  chargeOf,
  costMicroUsd,
  estimateCall,
  type ModelPrice,
  priceOf,
  providerKey,
  type Reservation,
  reserveCall,
  TokenMeter,
  type TokenUsage,
} from "@tollgate/llm";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { ServerContext } from "../context.js";
import { type CheckBody, resolve } from "../decide.js";
import type { App } from "../routes/types.js";
import { budgetCutEvent, denial, type GatewayRefusal, invalidRequest, openAiError, unauthenticated } from "./errors.js";
import { type EvalClient, processJournal, type ReservationJournal, redisJournal } from "./journal.js";
import { GatewayMetrics } from "./metrics.js";
import { eventChars, isUsageOnlyChunk, type SseEvent, SseSplitter, tokensOfChars } from "./sse.js";
import { readText, UpstreamClient, type UpstreamResponse } from "./upstream.js";

/** The prefix OpenAI SDKs take as their base URL. */
export const GATEWAY_PREFIX = "/gateway/openai/v1";

/** The operations forwarded, by path under the prefix. */
const OPERATIONS = {
  "chat/completions": { output: true },
  responses: { output: true },
  embeddings: { output: false },
} as const;
type Operation = keyof typeof OPERATIONS;

const ms = (value: string | number, parse: (text: string) => number) =>
  typeof value === "number" ? value : parse(value);

/** The caller's Tollgate API key from `Authorization: Bearer ...` (as OpenAI SDKs send their key). */
function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== "string") return undefined;
  return /^Bearer\s+(\S{1,512})\s*$/i.exec(header)?.[1];
}

function refuse(reply: FastifyReply, refusal: GatewayRefusal) {
  return reply.code(refusal.status).headers(refusal.headers).type("application/json").send(refusal.body);
}

/** Whether a money limit applies to calls on this plan and category (then every model needs a price). */
function moneyLimitApplies(ctx: ServerContext, plan: string | undefined, category: string | undefined): boolean {
  const config = ctx.limiter.config;
  const lists: (readonly CompiledLimit[] | undefined)[] = [
    config.global,
    plan === undefined ? undefined : config.plans.get(plan),
    category === undefined ? undefined : config.categories.get(category),
  ];
  return lists.some((list) =>
    list?.some(
      ({ limit }) =>
        limit.unit === "usd" &&
        (limit.categories === undefined || (category !== undefined && limit.categories.includes(category))),
    ),
  );
}

/**
 * The LLM gateway: OpenAI-compatible routes under `/gateway/openai/v1` that forward to the
 * configured upstream. Each call is authenticated with a Tollgate API key, reserves its worst case
 * (requests, tokens and money, all or nothing) before going upstream, and settles from the
 * upstream's reported usage after; a stream that reaches the caller's budget is cut (or, with
 * `onBudgetExhausted: finish`, ends and leaves the caller in debt).
 */
export async function gatewayRoutes(app: App, ctx: ServerContext, parseDuration: (text: string) => number) {
  if (!ctx.config.gateway) return;
  const gateway = ctx.config.gateway;
  const upstream = gateway.upstreams.openai;
  const baseUrl = upstream.baseUrl.replace(/\/+$/, "");
  const serverKey = process.env[upstream.apiKeyEnv] || undefined;
  if (!serverKey) {
    app.log.warn(
      { event: "gateway_no_upstream_key", env: upstream.apiKeyEnv },
      `gateway: ${upstream.apiKeyEnv} is not set; calls go upstream without a key unless they bring X-Provider-Key`,
    );
  }
  const upstreamTimeoutMs = ms(gateway.upstreamTimeout, parseDuration);
  const reservationMs = ms(gateway.reservationTimeout, parseDuration);
  const knownModels = new Set([...Object.keys(gateway.prices), ...Object.values(gateway.models).flat()]);
  const metrics = new GatewayMetrics(ctx.metrics.registry, knownModels);
  const upstreamClient = new UpstreamClient();
  const client = (ctx.store as { client?: EvalClient }).client;
  const journal: ReservationJournal = client
    ? redisJournal(client, ctx.config.stores.redis.prefix ?? "", reservationMs)
    : processJournal;
  const sweeper = setInterval(
    () => {
      journal.sweep(ctx.limiter.config, ctx.store, ctx.ledger.observer).then(
        (released) => {
          if (released === 0) return;
          metrics.released.inc(released);
          app.log.warn({ event: "gateway_reservations_released", released }, "released reservations never settled");
        },
        (error: unknown) => app.log.warn({ err: error }, "gateway reservation sweep failed"),
      );
    },
    ms(gateway.sweepInterval, parseDuration),
  );
  sweeper.unref();
  app.addHook("onClose", async () => {
    clearInterval(sweeper);
    upstreamClient.close();
  });

  /** The category gateway calls are decided in, when the catalog knows it (else none). */
  const categoryNow = () => {
    const known = ctx.limiter.config.knownCategories;
    return known.size === 0 || known.has(gateway.category) ? gateway.category : undefined;
  };

  /** Authenticates the caller; a refusal to send, or its limiter input and plan. */
  function authenticate(request: FastifyRequest) {
    const apiKey = bearer(request);
    if (apiKey === undefined) {
      return {
        refusal: unauthenticated(
          "You didn't provide an API key: send your Tollgate API key as `Authorization: Bearer tg_live_...`.",
        ),
      } as const;
    }
    const category = categoryNow();
    const body = { subject: { apiKey }, ...(category === undefined ? {} : { category }) } as CheckBody;
    const resolved = resolve(ctx, body);
    if (!resolved.ok) {
      if (category !== undefined) resolved.decision.category = category;
      ctx.metrics.recordDecision(resolved.decision, category);
      return { refusal: denial(resolved.decision, ctx.clock.now()) } as const;
    }
    const plan = resolved.keyPlan ?? resolved.input.plan;
    return { input: resolved.input, plan, category } as const;
  }

  const allowedModels = (plan: string | undefined) => (plan === undefined ? undefined : gateway.models[plan]);

  async function forward(operation: Operation, request: FastifyRequest, reply: FastifyReply) {
    const started = performance.now();
    const body = request.body as Record<string, unknown> | undefined;
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      return refuse(reply, invalidRequest("body", "must be a JSON object"));
    }
    const model = body.model;
    if (typeof model !== "string" || model.length === 0 || model.length > 128) {
      return refuse(reply, invalidRequest("model", "must be a model name (1-128 characters)"));
    }
    // The reservation is sized from it: a bad value must not fall back to a default silently.
    for (const field of ["max_tokens", "max_completion_tokens", "max_output_tokens"]) {
      const value = body[field];
      if (value !== undefined && value !== null && !(Number.isSafeInteger(value) && (value as number) >= 0)) {
        return refuse(reply, invalidRequest(field, "must be a whole number of tokens (0 or more)"));
      }
    }
    const auth = authenticate(request);
    if ("refusal" in auth) return refuse(reply, auth.refusal as GatewayRefusal);
    const { input, plan, category } = auth;
    const planLabel = plan ?? "none";
    const modelLabel = metrics.model(model);
    const allowed = allowedModels(plan);
    if (allowed && !allowed.includes(model)) {
      metrics.calls.inc({ plan: planLabel, model: modelLabel, status: "403" });
      return refuse(reply, {
        status: 403,
        headers: { "x-should-retry": "false" },
        body: openAiError(
          `Your plan does not include the model "${model}".`,
          "permission_error",
          "model_not_allowed",
          "model",
        ),
      });
    }
    // Read once and never kept: the header is the upstream credential for this one call.
    const byokKey = providerKey(
      (name) => {
        const value = request.headers[name];
        return typeof value === "string" ? value : undefined;
      },
      ["x-provider-key"],
    );
    const byok = byokKey !== undefined;
    const price = priceOf(gateway.prices, model);
    if (!price && !byok && moneyLimitApplies(ctx, input.plan, category)) {
      return refuse(
        reply,
        invalidRequest("model", `"${model}" has no price in gateway.prices, so your spending limit cannot be kept`),
      );
    }
    const stream = body.stream === true && OPERATIONS[operation].output;
    const estimate = estimateCall(body, { defaultMaxOutput: gateway.defaultMaxOutputTokens, price });
    if (!OPERATIONS[operation].output) {
      // Embeddings produce no output tokens: reserve the input only.
      estimate.maxOutput = 0;
      estimate.tokens = estimate.prompt;
      estimate.microUsd = price ? costMicroUsd(price, { input: estimate.prompt, output: 0, cached: 0 }) : 0;
    }
    const reservation = await reserveCall(ctx.limiter, { ...input, byok }, estimate);
    const { decision } = reservation;
    if (!decision.allowed) {
      const refusal = denial(decision, ctx.clock.now());
      metrics.calls.inc({ plan: planLabel, model: modelLabel, status: String(refusal.status) });
      return refuse(reply, refusal);
    }
    const journalId = randomUUID();
    if (decision.receipt)
      await journal
        .open(journalId, decision.receipt, { plan: decision.plan, category: decision.category })
        .catch((error: unknown) => request.log.warn({ err: error }, "gateway reservation not journaled"));

    const call = new Call(ctx, reservation, journal, journalId, price, metrics, planLabel, modelLabel);
    const upstreamBody = stream && operation === "chat/completions" ? withUsageRequested(body) : body;
    const controller = new AbortController();
    const timeout = setTimeout(() => controller.abort(new Error("upstream timeout")), upstreamTimeoutMs);
    timeout.unref();
    // The caller went away before the answer: stop the upstream (its output so far is charged).
    reply.raw.once("close", () => {
      if (!reply.raw.writableFinished) controller.abort(new Error("client closed"));
    });
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: stream ? "text/event-stream" : "application/json",
    };
    const credential = byokKey ?? serverKey;
    if (credential) headers.authorization = `Bearer ${credential}`;
    metrics.overhead.observe({ stream: String(stream) }, (performance.now() - started) / 1000);
    const sentAt = performance.now();
    let response: UpstreamResponse;
    try {
      response = await upstreamClient.request(new URL(`${baseUrl}/${operation}`), {
        method: "POST",
        headers,
        body: JSON.stringify(upstreamBody),
        signal: controller.signal,
      });
    } catch {
      clearTimeout(timeout);
      // Never reached the model: nothing produced, nothing charged.
      call.refund();
      metrics.calls.inc({ plan: planLabel, model: modelLabel, status: "502" });
      return refuse(reply, {
        status: 502,
        headers: {},
        body: openAiError("The upstream LLM API could not be reached.", "server_error", "upstream_unreachable"),
      });
    }
    metrics.upstreamLatency.observe({ model: modelLabel }, (performance.now() - sentAt) / 1000);
    const contentType = response.header("content-type") ?? "application/json";
    const out: Record<string, string> = { ...limitHeaders(decision, ctx.clock.now()) };
    const requestId = response.header("x-request-id");
    if (requestId) out["x-request-id"] = requestId;
    reply.code(response.status).headers(out).type(contentType);
    metrics.calls.inc({ plan: planLabel, model: modelLabel, status: String(response.status) });

    const isSse = contentType.toLowerCase().includes("text/event-stream");
    const ok = response.status >= 200 && response.status < 300;
    if (!ok || !isSse) {
      // An answer in one piece (already decoded from gzip, br or deflate).
      let text: string;
      try {
        text = await readText(response.body);
      } catch {
        text = "";
      } finally {
        clearTimeout(timeout);
      }
      const meter = new TokenMeter(estimate.prompt, contentType);
      meter.write(text);
      meter.end();
      call.finish(meter, response.status);
      return reply.send(text);
    }
    const wantsUsage = (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
    const relay = relayStream(response.body, {
      call,
      prompt: estimate.prompt,
      contentType,
      cut: gateway.onBudgetExhausted === "cut",
      dropUsageChunk: operation === "chat/completions" && !wantsUsage,
      done: () => clearTimeout(timeout),
      status: response.status,
    });
    return reply.send(Readable.from(relay, { objectMode: false }));
  }

  app.register(
    async (scope) => {
      // Errors in OpenAI's shape on these routes: their clients are OpenAI SDKs.
      scope.setErrorHandler((error: { statusCode?: number; message: string; code?: string }, request, reply) => {
        const status =
          error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
        if (status === 500) request.log.error({ err: error }, "gateway error");
        const message =
          error.code === "FST_ERR_CTP_BODY_TOO_LARGE"
            ? "body: larger than gateway.bodyLimit."
            : status === 500
              ? "Internal error in the gateway; it has been logged."
              : `body: ${error.message}`;
        return reply
          .code(status)
          .type("application/json")
          .send(
            openAiError(
              message,
              status === 500 ? "server_error" : "invalid_request_error",
              error.code ?? null,
              status === 500 ? null : "body",
            ),
          );
      });
      for (const operation of Object.keys(OPERATIONS) as Operation[]) {
        scope.post(
          `/${operation}`,
          { bodyLimit: gateway.bodyLimit, schema: { hide: true }, config: { forwardsBody: true } },
          (request, reply) => forward(operation, request, reply),
        );
      }
      scope.get("/models", { schema: { hide: true } }, async (request, reply) => {
        const auth = authenticate(request);
        if ("refusal" in auth) return refuse(reply, auth.refusal as GatewayRefusal);
        const byokKey = providerKey(
          (name) => {
            const value = request.headers[name];
            return typeof value === "string" ? value : undefined;
          },
          ["x-provider-key"],
        );
        const credential = byokKey ?? serverKey;
        let response: UpstreamResponse;
        let text: string;
        try {
          response = await upstreamClient.request(new URL(`${baseUrl}/models`), {
            method: "GET",
            headers: credential ? { authorization: `Bearer ${credential}` } : {},
            signal: AbortSignal.timeout(30_000),
          });
          text = await readText(response.body);
        } catch {
          return refuse(reply, {
            status: 502,
            headers: {},
            body: openAiError("The upstream LLM API could not be reached.", "server_error", "upstream_unreachable"),
          });
        }
        const allowed = allowedModels(auth.plan);
        if (response.status !== 200 || !allowed) return reply.code(response.status).type("application/json").send(text);
        // Only what the caller's plan may call.
        try {
          const list = JSON.parse(text) as { data?: { id?: unknown }[] };
          const data = (list.data ?? []).filter((entry) => typeof entry.id === "string" && allowed.includes(entry.id));
          return reply.type("application/json").send({ ...list, object: "list", data });
        } catch {
          return reply
            .code(502)
            .type("application/json")
            .send(openAiError("The upstream answered an unreadable model list.", "server_error", "upstream_invalid"));
        }
      });
    },
    { prefix: GATEWAY_PREFIX },
  );
}

/** The rate-limit fields of an allowed call: OpenAI's x-ratelimit-* and the IETF RateLimit fields. */
function limitHeaders(decision: Decision, now: number): Record<string, string> {
  return rateLimitHeaders(decision, { openai: true, now: () => now });
}

/** A streamed chat call asks the upstream for its usage in the final chunk (the figure to settle with). */
function withUsageRequested(body: Record<string, unknown>): Record<string, unknown> {
  const options = typeof body.stream_options === "object" && body.stream_options !== null ? body.stream_options : {};
  return { ...body, stream_options: { ...options, include_usage: true } };
}

/**
 * One allowed call, from reservation to settle: ends exactly once, settled with what the upstream
 * reported (or produced, when cut or abandoned), or refunded when it failed without usage.
 */
class Call {
  #ended = false;

  constructor(
    private readonly ctx: ServerContext,
    private readonly reservation: Reservation,
    private readonly journal: ReservationJournal,
    private readonly journalId: string,
    readonly price: ModelPrice | undefined,
    private readonly metrics: GatewayMetrics,
    private readonly plan: string,
    private readonly model: string,
  ) {}

  get estimate(): CallEstimate {
    return this.reservation.estimate;
  }

  get decision(): Decision {
    return this.reservation.decision;
  }

  refund() {
    this.#end({ input: 0, output: 0, cached: 0, total: 0 }, false, 599);
  }

  finish(meter: TokenMeter, status: number) {
    this.#end(meter.usage(), meter.reported, status);
  }

  #end(usage: TokenUsage, reported: boolean, status: number) {
    if (this.#ended) return;
    this.#ended = true;
    const charge = chargeOf(usage, this.price);
    const chargedNothing = status >= 400 && !reported;
    void this.journal
      .close(this.journalId)
      .catch(() => true)
      .then((held) => {
        if (held || chargedNothing) {
          this.reservation.finish({ ...charge, reported, status });
          return;
        }
        // Released by a sweeper already (this call outlived reservationTimeout): charge it in full.
        const receipt = this.decision.receipt;
        if (!receipt) return;
        const zeroed = { ...receipt, cost: 0, items: receipt.items.map((item) => ({ ...item, cost: 0 })) };
        void this.ctx.limiter.settle({ ...this.decision, receipt: zeroed }, charge.tokens, charge.microUsd);
      });
    if (chargedNothing) return;
    const labels = { plan: this.plan, model: this.model };
    this.metrics.tokens.inc({ ...labels, kind: "input" }, usage.input - usage.cached);
    this.metrics.tokens.inc({ ...labels, kind: "cached" }, usage.cached);
    this.metrics.tokens.inc({ ...labels, kind: "output" }, usage.output);
    if (charge.microUsd > 0) this.metrics.costUsd.inc(labels, charge.microUsd / MICRO_USD_PER_USD);
  }

  cut() {
    this.metrics.cuts.inc({ plan: this.plan, model: this.model });
  }
}

interface RelayOptions {
  call: Call;
  prompt: number;
  contentType: string;
  /** End the stream at the budget (else let it finish and record the debt). */
  cut: boolean;
  /** Drop the usage-only chunk the gateway asked for when the caller did not. */
  dropUsageChunk: boolean;
  done: () => void;
  status: number;
}

/**
 * Relays an upstream SSE stream event by event, metering what is forwarded. Before forwarding an
 * event, the output it would bring the call to is weighed against what the caller could still
 * spend when the call was admitted (its remaining budget plus this call's own reservation); past
 * it the stream ends with an OpenAI-shaped error event, and the call is settled with what was
 * forwarded. Ending early (the client left, the upstream failed) settles with what was forwarded.
 */
async function* relayStream(body: Readable, options: RelayOptions): AsyncGenerator<string> {
  const { call, prompt } = options;
  const meter = new TokenMeter(prompt, options.contentType);
  const splitter = new SseSplitter();
  const decoder = new TextDecoder();
  const allowance = callAllowance(call.decision, call.estimate);
  let chars = 0;
  const fits = (event: SseEvent): boolean => {
    if (!options.cut) return true;
    const output = tokensOfChars(chars + eventChars(event));
    if (prompt + output > allowance.tokens) return false;
    if (call.price && costMicroUsd(call.price, { input: prompt, output, cached: 0 }) > allowance.microUsd) return false;
    return true;
  };
  const chunks = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  try {
    for (;;) {
      const { done, value } = await chunks.next();
      const events = done
        ? [splitter.rest()].filter((e): e is SseEvent => e !== undefined)
        : splitter.push(decoder.decode(value, { stream: true }));
      // What one upstream read brought goes out in one write (not one per event).
      let out = "";
      for (const event of events) {
        if (!fits(event)) {
          call.cut();
          yield out + budgetCutEvent();
          return;
        }
        chars += eventChars(event);
        meter.write(`${event.raw}\n\n`);
        if (options.dropUsageChunk && isUsageOnlyChunk(event.json)) continue;
        out += `${event.raw}\n\n`;
      }
      if (out !== "") yield out;
      if (done) return;
    }
  } finally {
    options.done();
    meter.end();
    call.finish(meter, options.status);
    body.destroy();
  }
}
