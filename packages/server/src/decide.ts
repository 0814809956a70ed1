import { type CheckInput, type Decision, type LimitStatus, rateLimitHeaders, type Subject } from "@tollgate/core";
import type { z } from "zod";
import type { ServerContext } from "./context.js";
import { encodeDecisionId } from "./decision-id.js";
import type { checkBodySchema, decisionSchema } from "./schemas.js";

/** The decision API's response body. */
export type DecisionBody = z.output<typeof decisionSchema>;

import { HashCache } from "./hash-cache.js";
import { sameDigest } from "./secrets.js";

/** Recently used API keys: bounded, so a large key population just hashes on a miss. */
const keyHashes = new HashCache(10_000);

export type CheckBody = z.output<typeof checkBodySchema>;

/** A request field the catalog does not know: answered 400 before anything is counted. */
export class UnknownNameError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** A key resolved from `subject.apiKey`, or the reason it cannot be used. */
export type Resolved =
  | { ok: true; input: CheckInput; keyId?: string; keyPlan?: string; scopes?: string[] }
  | { ok: false; decision: Decision; keyId?: string };

/** `org:acme` -> { org: "acme" } so a key's owner is charged for per-org limits. */
export function ownerSubject(owner: string): Partial<Subject> {
  const colon = owner.indexOf(":");
  const kind = owner.slice(0, colon);
  const value = owner.slice(colon + 1);
  return ["user", "org", "project"].includes(kind) && value ? { [kind]: value } : {};
}

/**
 * Turns a request body into a limiter input: verifies `subject.apiKey` against the cached
 * catalog (hash lookup, constant-time compare), applies the key's plan, owner and scopes, and
 * checks plan/category names so a bad request is refused before anything is counted.
 */
export function resolve(ctx: ServerContext, body: CheckBody): Resolved {
  const { apiKey, ...subject } = body.subject;
  const config = ctx.limiter.config;
  if (body.category !== undefined && config.knownCategories.size > 0 && !config.knownCategories.has(body.category)) {
    throw new UnknownNameError(
      "category",
      `unknown category "${body.category}" (known: ${[...config.knownCategories].join(", ")})`,
    );
  }
  const input: CheckInput = { subject };
  if (body.category !== undefined) input.category = body.category;
  if (body.cost !== undefined) input.cost = body.cost;
  if (body.byok !== undefined) input.byok = body.byok;
  if (body.dryRun !== undefined) input.dryRun = body.dryRun;
  let scopes = body.scopes;
  let keyId: string | undefined;
  let keyPlan: string | undefined;
  if (apiKey !== undefined) {
    const hash = keyHashes.hash(apiKey);
    const key = ctx.catalog.keysByHash.get(hash);
    const valid =
      key !== undefined &&
      sameDigest(key.hash, hash) &&
      key.status === "active" &&
      (key.expiresAt === null || key.expiresAt > ctx.clock.now());
    if (!valid) {
      return { ok: false, decision: { allowed: false, reason: "invalid_key", limits: [] } };
    }
    keyHashes.remember(apiKey, hash);
    keyId = key.id;
    keyPlan = key.plan;
    input.subject = { ...ownerSubject(key.owner), ...subject, key: key.id };
    input.plan = key.effectivePlan;
    // A key carries its own scopes; the caller cannot add to them.
    scopes = key.scopes;
  } else if (body.plan !== undefined) {
    if (!config.plans.has(body.plan)) {
      throw new UnknownNameError(
        "plan",
        `unknown plan "${body.plan}" (known: ${[...ctx.catalog.plans.keys()].join(", ")})`,
      );
    }
    input.plan = body.plan;
  }
  const required = body.category === undefined ? undefined : config.requiredScopes.get(body.category);
  if (required !== undefined && (apiKey !== undefined || scopes !== undefined) && !scopes?.includes(required)) {
    const decision: Decision = { allowed: false, reason: "forbidden", limits: [] };
    return keyId === undefined ? { ok: false, decision } : { ok: false, decision, keyId };
  }
  return keyId === undefined ? { ok: true, input } : { ok: true, input, keyId, keyPlan };
}

/**
 * A limit status as sent: the algorithm and unit are already in the RateLimit-Policy header and
 * `crossed` matters only when true. Response size is most of the hot path's cost.
 */
function compact(status: LimitStatus): DecisionBody["limits"][number] {
  // Field by field rather than an object rest: V8 copies a rest-with-exclusions through a slow
  // runtime path, and this ran for every limit of every decision (profile: ~2 % of a check).
  const sent: DecisionBody["limits"][number] = {
    name: status.name,
    subject: status.subject,
    mode: status.mode,
    limit: status.limit,
    used: status.used,
    remaining: status.remaining,
    reset: status.reset,
    window: status.window,
    exceeded: status.exceeded,
  };
  if (status.alert !== undefined) sent.alert = status.alert;
  if (status.retryAfter !== undefined) sent.retryAfter = status.retryAfter;
  if (status.crossed) sent.crossed = true;
  return sent;
}

/** The response body: the decision without its receipt, a signed decision id, and headers. */
export function present(ctx: ServerContext, decision: Decision, keyId?: string, plan?: string): DecisionBody {
  const { receipt, limits, ...rest } = decision;
  const body: DecisionBody = {
    ...rest,
    limits: limits.map(compact),
    decisionId: encodeDecisionId(ctx.decisionSecrets[0] as string, receipt, ctx.clock.now(), rest),
    headers: rateLimitHeaders(decision),
  };
  // Per-key override plans are internal: callers see the key's own plan name.
  if (plan !== undefined) body.plan = plan;
  if (keyId !== undefined) body.keyId = keyId;
  return body;
}

/**
 * Decides one request end to end. Throws UnknownNameError / InputError for a 400. `resolved`
 * is the request already resolved (the batch resolves every request once, up front).
 */
export async function decideOne(ctx: ServerContext, body: CheckBody, resolved: Resolved = resolve(ctx, body)) {
  if (!resolved.ok) {
    if (body.category !== undefined) resolved.decision.category = body.category;
    ctx.metrics.recordDecision(resolved.decision, body.category);
    return present(ctx, resolved.decision, resolved.keyId);
  }
  const decision = await ctx.limiter.check(resolved.input);
  return present(ctx, decision, resolved.keyId, resolved.keyPlan);
}
