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
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, onRequestHookHandler } from "fastify";
import fp from "fastify-plugin";
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
import type { UsageReport } from "../usage.js";

/** Per-route settings (`config: { tollgate: {...} }`), merged over the plugin's; `false` turns limiting off. */
export interface TollgateRouteConfig extends GateOptions<FastifyRequest> {
  /** Reserve an LLM token estimate (from the parsed body) and settle with the reply's real usage. */
  tokens?: boolean | TokenCostOptions<FastifyRequest>;
}

export interface TollgatePluginOptions extends TollgateRouteConfig {
  limiter: Limiter;
  /** Limit every route, not only those with `config.tollgate`. Default false. */
  global?: boolean;
  /** Answer denials yourself (the headers are already on the reply). */
  onDenied?: (
    request: FastifyRequest,
    reply: FastifyReply,
    result: Extract<GateResult, { action: "respond" }>,
  ) => unknown;
}

declare module "fastify" {
  interface FastifyContextConfig {
    tollgate?: TollgateRouteConfig | false;
  }
  interface FastifyRequest {
    /** The decision, subject and (not enumerable) provider key of a limited route. */
    tollgate: TollgateContext | null;
  }
  interface FastifyInstance {
    tollgate: { limiter: Limiter; usage(request: FastifyRequest): Promise<UsageReport> };
  }
}

const plugin: FastifyPluginAsync<TollgatePluginOptions> = async (fastify, pluginOptions) => {
  const { limiter, global = false, onDenied, ...defaults } = pluginOptions;
  const readUsage = createUsage<FastifyRequest>(limiter, defaults);
  fastify.decorateRequest("tollgate", null);
  fastify.decorate("tollgate", {
    limiter,
    async usage(request: FastifyRequest) {
      const { body } = await readUsage(request, nodeView(request.raw));
      return body as UsageReport;
    },
  });

  fastify.addHook("onRoute", (route) => {
    const routeConfig = route.config?.tollgate;
    if (routeConfig === false || (routeConfig === undefined && !global)) return;
    const options: TollgateRouteConfig = { ...defaults, ...routeConfig };
    const { tokens } = options;
    const estimate = tokens
      ? ((tokens === true ? undefined : tokens.estimate) ?? ((request: FastifyRequest) => estimateTokens(request.body)))
      : undefined;
    const gate = gateOf<FastifyRequest>(limiter, estimate ? { ...options, cost: estimate } : options);
    const byokHeaders = byokHeaderNames(options.byok);

    /** Continues (undefined), or answers the denial (a promise Fastify waits for before it stops). */
    function apply(request: FastifyRequest, reply: FastifyReply, result: GateResult): Promise<unknown> | undefined {
      stripProviderKey(request.headers, byokHeaders);
      reply.headers(result.headers);
      if (result.action === "respond") {
        if (onDenied) return Promise.resolve(onDenied(request, reply, result));
        return Promise.resolve(reply.code(result.status).send(JSON.stringify(result.body)));
      }
      request.tollgate = result.context;
      const { decision } = result.context;
      if (estimate && limiter && decision) {
        meterNodeResponse(
          reply.raw,
          promptTokens(request.body),
          settleOnce(limiter, decision, tokens === true ? {} : tokens || {}),
        );
      }
      // Only leases need the close event; a listener per request would cost every other route too.
      if (holdsLease(decision)) reply.raw.once("close", () => releaseWhenDone(limiter, decision));
      return undefined;
    }

    // Not async: on a synchronous store (memory) it calls `done` at once, without a promise.
    // When it returns a promise instead, Fastify waits for that and `done` is not called.
    const tollgateHook: onRequestHookHandler = function tollgateHook(request, reply, done) {
      const result = gate(request, nodeView(request.raw));
      const answering = isPromiseLike(result)
        ? result.then((settled) => apply(request, reply, settled))
        : apply(request, reply, result);
      if (answering !== undefined) return answering;
      done();
    };
    // Before body parsing when possible (cheapest rejection); token estimates need the parsed body.
    const phase = estimate ? "preHandler" : "onRequest";
    const existing = route[phase];
    route[phase] = [
      ...(existing === undefined ? [] : Array.isArray(existing) ? existing : [existing]),
      tollgateHook,
    ] as never;
  });
};

/**
 * Fastify plugin: limits routes with `config: { tollgate: {...} }` (or all, with `global`),
 * decorates `request.tollgate` and `fastify.tollgate`. Register it before the routes.
 *
 * @example
 * await app.register(tollgate, { limiter, subject: (req) => ({ org: req.headers["x-org"] as string }) });
 * app.post("/api/llm", { config: { tollgate: { category: "llm_call" } } }, handler);
 */
export const tollgate = fp(plugin, { fastify: "5.x", name: "@tollgate/http/fastify" });
export default tollgate;

/**
 * A usage route handler: `{used, limit, remaining, reset, limits}` for the caller, never charging.
 *
 * @example
 * app.get("/api/usage", usageHandler(limiter, { subject: (req) => ({ user: req.headers["x-user"] as string }) }));
 */
export function usageHandler(limiter: Limiter, options: GateOptions<FastifyRequest> = {}) {
  const read = createUsage<FastifyRequest>(limiter, options);
  return async function tollgateUsage(request: FastifyRequest, reply: FastifyReply) {
    const { status, body } = await read(request, nodeView(request.raw));
    if (status !== 200) reply.type(PROBLEM_CONTENT_TYPE);
    return reply.code(status).send(body);
  };
}

export type { TollgateContext } from "../gate.js";
