import type { Limiter } from "@tollgate/core";
import { estimateTokens, meterWebResponse, promptTokens, settleOnce, type TokenCostOptions } from "@tollgate/llm";
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

/** Options for Next.js (or any Web `Request`/`Response` runtime). */
export interface NextRateLimitOptions extends GateOptions<Request> {
  /**
   * The client address. Next.js exposes no socket: give the platform's header here (and set
   * `trustProxy` accordingly), e.g. `(req) => req.headers.get("x-real-ip") ?? undefined`.
   */
  remoteAddress?: (request: Request) => string | undefined;
  /** Reserve an LLM token estimate from the JSON body and settle with the response's real usage. */
  tokens?: boolean | TokenCostOptions<Request>;
  /** Answer denials yourself. */
  onDenied?: (request: Request, result: Extract<GateResult, { action: "respond" }>) => Response | Promise<Response>;
}

function view(request: Request, options: NextRateLimitOptions): RequestView {
  return { header: (name) => request.headers.get(name) ?? undefined, remoteAddress: options.remoteAddress?.(request) };
}

const jsonBody = (request: Request) =>
  request
    .clone()
    .json()
    .catch(() => undefined) as Promise<unknown>;

function denial(result: Extract<GateResult, { action: "respond" }>): Response {
  return new Response(JSON.stringify(result.body), { status: result.status, headers: result.headers });
}

function prepare(limiter: Limiter, options: NextRateLimitOptions) {
  const { tokens } = options;
  const estimate = tokens
    ? ((tokens === true ? undefined : tokens.estimate) ??
      (async (request: Request) => estimateTokens(await jsonBody(request))))
    : undefined;
  return { estimate, gate: createGate<Request>(limiter, estimate ? { ...options, cost: estimate } : options) };
}

/**
 * A route handler: Next.js calls it with its route context (`{ params }`), a test may call it with
 * the request alone. Next.js' build-time route check reads the last signature and accepts a context
 * type only if it is assignable to its own (`{ params: Promise<...> }` since 15, `{ params }` before)
 * or `unknown`: so `C` defaults to `unknown`, and the required-context form comes last.
 */
export interface RouteHandler<C = unknown> {
  (request: Request): Promise<Response>;
  (request: Request, context: C): Promise<Response>;
}

/**
 * Wraps an App Router route handler. The handler gets `context.tollgate` (decision, subject, and
 * the caller's provider key for this request only).
 *
 * @example
 * // app/api/generate/route.ts
 * export const POST = withRateLimit(limiter, { subject: userFrom }, async (request, { tollgate }) => Response.json({ ok: true }));
 */
export function withRateLimit<C = unknown>(
  limiter: Limiter,
  options: NextRateLimitOptions,
  handler: (request: Request, context: C & { tollgate: TollgateContext }) => Response | Promise<Response>,
): RouteHandler<C> {
  const { gate, estimate } = prepare(limiter, options);
  return async function tollgateRoute(request: Request, context?: C) {
    const result = await gate(request, view(request, options));
    if (result.action === "respond") return options.onDenied ? options.onDenied(request, result) : denial(result);
    let response = await handler(request, { ...(context as object | undefined), tollgate: result.context } as C & {
      tollgate: TollgateContext;
    });
    const { decision } = result.context;
    if (estimate && limiter && decision) {
      response = meterWebResponse(
        response,
        promptTokens(await jsonBody(request)),
        settleOnce(limiter, decision, options.tokens === true ? {} : options.tokens || {}),
      );
    }
    releaseWhenDone(limiter, decision);
    // Responses from fetch() have immutable headers: copy into a fresh Response before adding ours.
    const headers = new Headers(response.headers);
    for (const [name, value] of Object.entries(result.headers)) headers.set(name, value);
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  };
}

/**
 * For `middleware.ts`: a denial Response to return, or `undefined` to continue (`NextResponse.next()`).
 * Works with plain Web Requests, so it does not depend on the `next` package.
 *
 * @example
 * const limit = rateLimitMiddleware(limiter, { remoteAddress: (r) => r.headers.get("x-real-ip") ?? undefined });
 * export async function middleware(request) { return (await limit(request)) ?? NextResponse.next(); }
 */
export function rateLimitMiddleware(
  limiter: Limiter,
  options: NextRateLimitOptions = {},
): (request: Request) => Promise<Response | undefined> {
  const { gate } = prepare(limiter, { ...options, tokens: false });
  return async function tollgateMiddleware(request) {
    const result = await gate(request, view(request, options));
    if (result.action === "continue") return undefined;
    return options.onDenied ? options.onDenied(request, result) : denial(result);
  };
}

/**
 * A usage route (`GET /api/usage`): `{used, limit, remaining, reset, limits}`, never charging.
 *
 * @example
 * export const GET = usageRoute(limiter, { subject: userFrom });
 */
export function usageRoute(
  limiter: Limiter,
  options: NextRateLimitOptions = {},
): (request: Request) => Promise<Response> {
  const read = createUsage<Request>(limiter, options);
  return async function tollgateUsage(request) {
    const { status, body } = await read(request, view(request, options));
    const type = status === 200 ? "application/json" : PROBLEM_CONTENT_TYPE;
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": type } });
  };
}

export type { TollgateContext } from "../gate.js";
