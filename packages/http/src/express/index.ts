import type { Limiter } from "@tollgate/core";
import {
  byokHeaderNames,
  estimateTokens,
  meterNodeResponse,
  promptTokens,
  settleOnce,
  stripProviderKey,
  type TokenCostOptions,
} from "@tollgate/llm";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import {
  createUsage,
  type GateOptions,
  type GateResult,
  gateOf,
  holdsLease,
  releaseWhenDone,
  type TollgateContext,
} from "../gate.js";
import { isPromiseLike } from "../maybe.js";
import { nodeView } from "../node-view.js";
import { PROBLEM_CONTENT_TYPE } from "../problem.js";

declare global {
  namespace Express {
    interface Request {
      /** Set by Tollgate's `rateLimit`: the decision, the subject and (not enumerable) the caller's provider key. */
      tollgate?: TollgateContext;
    }
  }
}

export interface ExpressRateLimitOptions extends GateOptions<Request> {
  /** Reserve an LLM token estimate before the handler and settle with the response's real usage. Needs a body parser. */
  tokens?: boolean | TokenCostOptions<Request>;
  /** Answer denials yourself (the headers are already set on `res`). */
  onDenied?: (
    req: Request,
    res: Response,
    next: NextFunction,
    result: Extract<GateResult, { action: "respond" }>,
  ) => void;
}

/**
 * Express middleware: 429 (or 403/401/503/400) as `application/problem+json` with `Retry-After`
 * and RateLimit fields, or RateLimit fields and `next()`.
 *
 * @example
 * import { rateLimit } from "@tollgate/http/express";
 * app.post("/api/ai/triage", rateLimit(limiter, { subject: (req) => ({ user: req.user.id }) }), handler);
 */
export function rateLimit(limiter: Limiter, options: ExpressRateLimitOptions = {}): RequestHandler {
  const { tokens, onDenied } = options;
  const estimate = tokens
    ? ((tokens === true ? undefined : tokens.estimate) ?? ((req) => estimateTokens(req.body)))
    : undefined;
  const gate = gateOf<Request>(limiter, estimate ? { ...options, cost: estimate } : options);
  const byokHeaders = byokHeaderNames(options.byok);

  function apply(req: Request, res: Response, next: NextFunction, result: GateResult) {
    stripProviderKey(req.headers, byokHeaders);
    if (result.action === "respond") {
      // `res.set` gives the problem's Content-Type Express's charset handling.
      res.set(result.headers);
      if (onDenied) return onDenied(req, res, next, result);
      return void res.status(result.status).send(JSON.stringify(result.body));
    }
    // Plain RateLimit fields: `setHeader` writes the same bytes as `res.set` without its per-field
    // Content-Type checks and string conversions.
    for (const name in result.headers) res.setHeader(name, result.headers[name] as string);
    req.tollgate = result.context;
    const { decision } = result.context;
    if (estimate && limiter && decision)
      meterNodeResponse(
        res,
        promptTokens(req.body),
        settleOnce(limiter, decision, tokens === true ? {} : tokens || {}),
      );
    // Only leases need the close event; a listener per request would cost every other route too.
    if (holdsLease(decision)) res.once("close", () => releaseWhenDone(limiter, decision));
    next();
  }

  // Not async: on a synchronous store (memory) the request goes on without a single microtask.
  return function tollgateRateLimit(req, res, next) {
    try {
      const result = gate(req, nodeView(req));
      if (!isPromiseLike(result)) return apply(req, res, next, result);
      return result.then((settled) => apply(req, res, next, settled), next);
    } catch (error) {
      return next(error);
    }
  };
}

/**
 * Express handler for a usage endpoint: `{used, limit, remaining, reset, limits}` for the caller, never charging.
 *
 * @example
 * app.get("/api/usage", usage(limiter, { subject: (req) => (req.user ? { user: req.user.id } : undefined) }));
 */
export function usage(limiter: Limiter, options: GateOptions<Request> = {}): RequestHandler {
  const read = createUsage<Request>(limiter, options);
  return async function tollgateUsage(req, res, next) {
    try {
      const { status, body } = await read(req, nodeView(req));
      if (status !== 200) res.type(PROBLEM_CONTENT_TYPE);
      res.status(status).json(body);
    } catch (error) {
      next(error);
    }
  };
}

export type { TollgateContext } from "../gate.js";
