import type { Limiter } from "@tollgate/core";
import { estimateTokens, meterWebResponse, promptTokens, settleOnce, type TokenCostOptions } from "@tollgate/llm";
import type { Context, Handler, MiddlewareHandler } from "hono";
import {
  createGate,
  createUsage,
  type GateOptions,
  type GateResult,
  type RequestView,
  releaseWhenDone,
  type TollgateContext,
} from "../gate.js";
import { PROBLEM_CONTENT_TYPE } from "../problem.js";

/** Context variables set by the middleware: `c.get("tollgate")`. */
export type TollgateEnv = { Variables: { tollgate: TollgateContext } };

export interface HonoRateLimitOptions extends GateOptions<Context> {
  /** The client's socket address. Default: `@hono/node-server`'s `c.env.incoming.socket`. */
  remoteAddress?: (c: Context) => string | undefined;
  /** Reserve an LLM token estimate from the JSON body and settle with the response's real usage. */
  tokens?: boolean | TokenCostOptions<Context>;
  /** Answer denials yourself. */
  onDenied?: (c: Context, result: Extract<GateResult, { action: "respond" }>) => Response | Promise<Response>;
}

const nodeServerAddress = (c: Context) =>
  (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress;

function view(c: Context, remoteAddress: (c: Context) => string | undefined): RequestView {
  return { header: (name) => c.req.header(name), remoteAddress: remoteAddress(c) };
}

const jsonBody = (c: Context) => c.req.json<unknown>().catch(() => undefined);

/**
 * Hono middleware factory.
 *
 * @example
 * import { rateLimit } from "@tollgate/http/hono";
 * app.use("/v1/*", rateLimit(limiter, { subject: (c) => ({ key: c.req.header("x-api-key") }) }));
 */
export function rateLimit(limiter: Limiter, options: HonoRateLimitOptions = {}): MiddlewareHandler<TollgateEnv> {
  const { tokens, onDenied } = options;
  const remoteAddress = options.remoteAddress ?? nodeServerAddress;
  const estimate = tokens
    ? ((tokens === true ? undefined : tokens.estimate) ?? (async (c: Context) => estimateTokens(await jsonBody(c))))
    : undefined;
  const gate = createGate<Context>(limiter, estimate ? { ...options, cost: estimate } : options);

  return async function tollgateRateLimit(c, next) {
    const result = await gate(c, view(c, remoteAddress));
    if (result.action === "respond") {
      if (onDenied) return onDenied(c, result);
      return c.body(JSON.stringify(result.body), result.status as 429, result.headers);
    }
    for (const [name, value] of Object.entries(result.headers)) c.header(name, value);
    c.set("tollgate", result.context);
    await next();
    const { decision } = result.context;
    if (estimate && limiter && decision) {
      c.res = meterWebResponse(
        c.res,
        promptTokens(await jsonBody(c)),
        settleOnce(limiter, decision, tokens === true ? {} : tokens || {}),
      );
    }
    releaseWhenDone(limiter, decision);
  };
}

/**
 * A usage route: `{used, limit, remaining, reset, limits}` for the caller, never charging.
 *
 * @example
 * app.get("/api/usage", usage(limiter, { subject: (c) => ({ user: c.get("userId") }) }));
 */
export function usage(
  limiter: Limiter,
  options: GateOptions<Context> & { remoteAddress?: (c: Context) => string | undefined } = {},
): Handler {
  const read = createUsage<Context>(limiter, options);
  const remoteAddress = options.remoteAddress ?? nodeServerAddress;
  return async function tollgateUsage(c) {
    const { status, body } = await read(c, view(c, remoteAddress));
    return c.json(body, status as 200, status === 200 ? {} : { "Content-Type": PROBLEM_CONTENT_TYPE });
  };
}

export type { TollgateContext } from "../gate.js";
