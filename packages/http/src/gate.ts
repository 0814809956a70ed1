import {
  type AdjustOutcome,
  type Clock,
  type Decision,
  denialProblem,
  type HeaderOptions,
  InputError,
  type Limiter,
  rateLimitHeaders,
  type Subject,
  systemClock,
} from "@tollgate/core";
import { type Identity, identityOf, type RequestFacts, type RequestView, type SubjectInput } from "./identity.js";
import { andThen, isPromiseLike, type Maybe } from "./maybe.js";
import { inputProblem, PROBLEM_CONTENT_TYPE, type Problem, refusal } from "./problem.js";
import type { TrustProxy } from "./proxy.js";
import { type Resolver, resolveInput } from "./resolve.js";
import { readUsage, type UsageReport } from "./usage.js";
import { type Logger, warnOnce } from "./warn.js";

export {
  apiKeySubjectId,
  createIdentity,
  type Identity,
  identityOf,
  type RequestFacts,
  type RequestView,
  type SubjectInput,
} from "./identity.js";

/** `true` lets the request through; `false` or `"forbidden"` answers 403, `"invalid_key"` 401. Nothing is counted. */
export type Authorization = boolean | "forbidden" | "invalid_key";

/**
 * Options shared by every adapter. `Req` is the framework's request (Express `req`, Hono `c`, ...).
 *
 * @example
 * rateLimit(limiter, { subject: (req) => ({ user: req.user.id }), category: "llm_call" });
 */
export interface GateOptions<Req> {
  /**
   * Who is charged. The client `ip` is added unless you set one (it only ever satisfies `per: ip`
   * limits). Default: the IP alone. Return a raw API key as `apiKey`, never as `key`: it is hashed.
   */
  subject?: Resolver<Req, SubjectInput | undefined>;
  /** Endpoint category (`llm_call`). */
  category?: Resolver<Req, string | undefined>;
  /** Plan name; default from the limiter (`signed-in` with a user, `anonymous` without). */
  plan?: Resolver<Req, string | undefined>;
  /** Units for token limits (default 1; 0 peeks). Request limits always count 1. */
  cost?: Resolver<Req, number | undefined>;
  /** Role or scope check before anything is counted (use case 1: readonly users get 403). */
  authorize?: (req: Req, facts: RequestFacts) => Authorization | Promise<Authorization>;
  /** Requests to let through untouched (a cache hit, a health check). */
  skip?: (req: Req) => boolean | Promise<boolean>;
  /** Headers carrying the caller's own provider key; `false` disables BYOK. Default `X-Provider-Key`, `X-OpenAI-Key`. */
  byok?: false | { headers?: readonly string[] };
  /** Proxies allowed to name the client (see {@link TrustProxy}). Default: none. */
  trustProxy?: TrustProxy;
  /** IPv6 addresses are limited per prefix of this length. Default 64. */
  ipv6Subnet?: number;
  /** Header families: IETF (default on), `legacy` X-RateLimit-*, `openai` x-ratelimit-*. */
  headers?: Omit<HeaderOptions, "now">;
  /** Configuration warnings (printed once each). Default `console`. */
  logger?: Logger;
  /** Clock for the legacy epoch reset header. */
  clock?: Clock;
}

/** Per-request state handed to the route handler. `providerKey` is not enumerable, so it is never serialised by accident. */
export interface TollgateContext {
  decision: Decision | undefined;
  subject: Subject;
  ip: string | undefined;
  readonly providerKey?: string;
  /**
   * Gives back everything this request was charged (the upstream call failed) and frees its
   * leases. At most once, and it ends the token meter's reservation: the response is then not
   * charged again. Same as `limiter.refund(decision)`.
   */
  refund(): Promise<AdjustOutcome>;
}

/** What the adapter should do with the request. */
export type GateResult =
  | { action: "continue"; headers: Record<string, string>; context: TollgateContext }
  | { action: "respond"; status: number; headers: Record<string, string>; body: Problem; decision?: Decision };

const NOTHING_TO_REFUND: () => Promise<AdjustOutcome> = () => Promise.resolve({ applied: true });

function context(
  limiter: Limiter,
  decision: Decision | undefined,
  subject: Subject,
  ip: string | undefined,
  key?: string,
) {
  const refund = decision?.receipt ? () => limiter.refund(decision) : NOTHING_TO_REFUND;
  const ctx = { decision, subject, ip } as TollgateContext;
  Object.defineProperty(ctx, "refund", { value: refund, enumerable: false });
  if (key !== undefined) Object.defineProperty(ctx, "providerKey", { value: key, enumerable: false });
  return ctx;
}

/** Answers no wait can change (bad input, refusals): retrying clients (OpenAI SDKs) should not. */
const NO_RETRY = { "x-should-retry": "false" };

function deny(problem: Problem, decision: Decision | undefined, headers: Record<string, string>): GateResult {
  const result: GateResult = {
    action: "respond",
    status: problem.status,
    headers: { ...headers, "Content-Type": PROBLEM_CONTENT_TYPE },
    body: problem,
  };
  if (decision) result.decision = decision;
  return result;
}

/**
 * {@link createGate} answering synchronously when every step does (resolvers that return plain
 * values, a synchronous store: the limiter's `checkSync`): what the adapters use, so a request on
 * a memory store costs no microtask at all.
 */
export function gateOf<Req>(
  limiter: Limiter,
  options: GateOptions<Req> = {},
): (req: Req, view: RequestView) => Maybe<GateResult> {
  const identify = identityOf(options);
  const warn = warnOnce(options.logger);
  const clock = options.clock ?? systemClock;
  const headerOptions: HeaderOptions = { ...options.headers, now: () => clock.now() };
  const synchronous = limiter.store.synchronous === true;
  const { authorize, skip } = options;

  /** Bad input answers 400 by field name; anything else is the adapter's error. */
  function rejected(error: unknown): GateResult {
    if (error instanceof InputError) return deny(inputProblem(error), undefined, NO_RETRY);
    throw error;
  }

  function answer(decision: Decision, identity: Identity): GateResult {
    if (decision.skipped !== undefined) {
      for (const { limit, field } of decision.skipped) {
        warn(
          `SUBJECT_SKIPPED:${limit}`,
          `limit "${limit}" was skipped: the request has no ${field} subject (whenMissing: skip). ` +
            `Every skip is a request this limit did not protect.`,
        );
      }
    }
    const headers = rateLimitHeaders(decision, headerOptions);
    if (!decision.allowed) return deny({ ...denialProblem(decision) }, decision, headers);
    const { subject, ip, providerKey: key } = identity;
    return { action: "continue", headers, context: context(limiter, decision, subject, ip, key) };
  }

  function decide(req: Req, identity: Identity): Maybe<GateResult> {
    const { subject, facts, providerKey: key } = identity;
    let decision: Maybe<Decision>;
    try {
      const input = resolveInput(options, req, facts, { subject, byok: key !== undefined }, 3);
      decision = andThen(input, (ready) => (synchronous ? limiter.checkSync(ready) : limiter.check(ready)));
    } catch (error) {
      return rejected(error);
    }
    if (isPromiseLike(decision)) return decision.then((settled) => answer(settled, identity), rejected);
    return answer(decision, identity);
  }

  function admit(req: Req, identity: Identity): Maybe<GateResult> {
    if (skip === undefined) return decide(req, identity);
    return andThen(skip(req), (skipped): Maybe<GateResult> => {
      if (!skipped) return decide(req, identity);
      const { subject, ip, providerKey: key } = identity;
      return { action: "continue", headers: {}, context: context(limiter, undefined, subject, ip, key) };
    });
  }

  return (req, view) => {
    let verdict: Authorization = true;
    const authorized =
      authorize &&
      ((facts: RequestFacts) =>
        andThen(authorize(req, facts), (answered) => {
          verdict = answered;
          return answered === true;
        }));
    return andThen(identify(req, view, authorized), (identity) => {
      if (identity !== undefined) return admit(req, identity);
      const { decision, problem } = refusal(verdict === "invalid_key" ? "invalid_key" : "forbidden");
      return deny(problem, decision, NO_RETRY);
    });
  };
}

/**
 * The framework-neutral core of every adapter: resolves subject, category, plan and cost, calls
 * the limiter once, and says whether to continue (with RateLimit headers) or answer (429, 403,
 * 401, 503 or 400, all `application/problem+json`). With `noopLimiter()` everything passes, so
 * an app with no store configured keeps serving.
 *
 * @example
 * const gate = createGate(limiter, { subject: (req) => ({ user: req.userId }) });
 * const result = await gate(req, { header: (n) => req.headers[n], remoteAddress: req.socket.remoteAddress });
 */
export function createGate<Req>(
  limiter: Limiter,
  options: GateOptions<Req> = {},
): (req: Req, view: RequestView) => Promise<GateResult> {
  const gate = gateOf(limiter, options);
  return async (req, view) => gate(req, view);
}

/**
 * Reads the caller's usage (peek, never charging) with the same identity rules as the gate.
 * Answers the status and JSON body of a usage endpoint (400 problem on bad input).
 *
 * @example
 * const usage = createUsage(limiter, { subject: (req) => (req.user ? { user: req.user.id } : undefined) });
 * const { status, body } = await usage(req, view);
 */
export function createUsage<Req>(
  limiter: Limiter,
  options: GateOptions<Req> = {},
): (req: Req, view: RequestView) => Promise<{ status: number; body: UsageReport | Problem }> {
  const identify = identityOf({ ...options, byok: false });
  return async (req, view) => {
    const { subject, facts } = (await identify(req, view)) as Identity;
    try {
      const input = await resolveInput(options, req, facts, { subject }, 2);
      return { status: 200, body: await readUsage(limiter, input) };
    } catch (error) {
      if (error instanceof InputError) return { status: 400, body: inputProblem(error) };
      throw error;
    }
  };
}

/** The decision holds concurrency leases, which must be released when the response is done. */
export function holdsLease(decision: Decision | undefined): decision is Decision {
  return !!decision?.receipt?.items.some((item) => item.limit.algorithm === "concurrency");
}

/** Releases concurrency leases once the response is done; a no-op for other limits. */
export function releaseWhenDone(limiter: Limiter, decision: Decision | undefined): void {
  if (holdsLease(decision)) void limiter.release(decision);
}
