import { type Clock, createLimiter, type Limiter, memoryStore, parseDuration } from "@tollgate/core";
import type { Role } from "@tollgate/db";
import type { FastifyReply, FastifyRequest, preHandlerHookHandler } from "fastify";
import type { Catalog, TokenRecord } from "./catalog.js";
import { HashCache } from "./hash-cache.js";
import { PROBLEMS, problem, sendProblem } from "./problem.js";
import { sameDigest } from "./secrets.js";
import { csrfProblem, type Sessions, sessionCookie } from "./session.js";

/** Who made a request, once authenticated. */
export type Principal = Pick<TokenRecord, "id" | "name" | "role">;

declare module "fastify" {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** admin > operator > readonly; `service` only calls the decision API. */
export const ROLE_RANK: Record<Role, number> = { admin: 3, operator: 2, readonly: 1, service: 0 };

/**
 * Throttles failed authentications per IP with core's own limiter on a memory store, so a
 * scanner cannot hammer token checks or fill the logs. Valid tokens are never throttled.
 */
export class AuthThrottle {
  private readonly limiter: Limiter;
  constructor(limit: number, window: string | number, clock?: Clock) {
    const windowMs = typeof window === "number" ? window : parseDuration(window);
    this.limiter = createLimiter({
      store: memoryStore({ clock, maxKeys: 100_000 }),
      clock,
      breaker: false,
      limits: [{ name: "auth-failures", per: "ip", algorithm: "fixed-window", limit, window: windowMs }],
    });
  }
  /** Counts a failure; answers the seconds to wait when the IP is over its allowance. */
  async fail(ip: string): Promise<number | undefined> {
    const decision = await this.limiter.check({ subject: { ip: ip.slice(0, 256) || "unknown" } });
    return decision.allowed ? undefined : (decision.retryAfter ?? 1);
  }
  /** Seconds an IP must still wait, without counting anything. */
  async blocked(ip: string): Promise<number | undefined> {
    const decision = await this.limiter.peek({ subject: { ip: ip.slice(0, 256) || "unknown" } });
    const status = decision.limits[0];
    return status && status.remaining <= 0 ? Math.max(1, status.reset) : undefined;
  }
}

/** The bearer token of a request, or undefined. */
function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== "string") return undefined;
  const match = /^Bearer\s+(\S{1,512})\s*$/i.exec(header);
  return match?.[1];
}

/** Admin and service tokens are few; 1,000 covers them with room to spare. */
const tokenHashes = new HashCache(1_000);

/** Looks a token up by hash (map lookup) and confirms it with a constant-time compare. */
export function resolveToken(catalog: Catalog, token: string): Principal | undefined {
  const hash = tokenHashes.hash(token);
  const record = catalog.staticTokens.get(hash) ?? catalog.tokensByHash.get(hash);
  if (!record || !sameDigest(record.hash, hash)) return undefined;
  tokenHashes.remember(token, hash);
  return { id: record.id, name: record.name, role: record.role };
}

/** The principal of an admin token by its id (sessions name the token by id, never by secret). */
export function tokenById(catalog: Catalog, id: string): Principal | undefined {
  for (const record of [...catalog.staticTokens.values(), ...catalog.tokensByHash.values()]) {
    if (record.id === id) return { id: record.id, name: record.name, role: record.role };
  }
  return undefined;
}

async function reject(reply: FastifyReply, throttle: AuthThrottle, ip: string, detail: string) {
  const wait = await throttle.fail(ip);
  if (wait !== undefined) {
    reply.header("Retry-After", String(wait));
    return sendProblem(
      reply,
      problem(
        PROBLEMS.authThrottled,
        `Too many failed authentications from this address. Try again in ${wait} s with a valid token.`,
        { retryAfter: wait },
      ),
    );
  }
  reply.header("WWW-Authenticate", 'Bearer realm="tollgate"');
  return sendProblem(reply, problem(PROBLEMS.unauthenticated, detail));
}

/** 403 naming the role needed; `needed` is machine-readable for the dashboard's panel. */
function forbidden(reply: FastifyReply, principal: Principal, needs: string) {
  return sendProblem(
    reply,
    problem(
      PROBLEMS.forbiddenRole,
      `Your token's role (${principal.role}) may not do this: it needs ${needs}. Ask an admin for a token with that role.`,
      { role: principal.role, needed: needs },
    ),
  );
}

/**
 * A preHandler admitting tokens whose role is in `roles` (decision API) or ranks at least
 * `minimum` (admin API). 401 when the token is missing or wrong, 403 when the role may not.
 */
export function requireRole(
  catalog: Catalog,
  throttle: AuthThrottle,
  rule: { roles: Role[] } | { minimum: Exclude<Role, "service"> },
  /** Admin routes also accept a dashboard session cookie instead of a bearer token. */
  sessions?: Sessions,
): preHandlerHookHandler {
  const allowed = (role: Role) =>
    "roles" in rule ? rule.roles.includes(role) : role !== "service" && ROLE_RANK[role] >= ROLE_RANK[rule.minimum];
  const needs = "roles" in rule ? rule.roles.join(" or ") : `${rule.minimum} or higher`;
  return async (request, reply) => {
    const token = bearer(request);
    const cookie = token === undefined && sessions ? sessionCookie(request) : undefined;
    if (cookie !== undefined && sessions) {
      const claims = sessions.verify(cookie);
      const principal = claims ? tokenById(catalog, claims.tokenId) : undefined;
      if (!principal) {
        return reject(
          reply,
          throttle,
          request.ip,
          "Your dashboard session has expired or its token was revoked: sign in again.",
        );
      }
      const csrf = csrfProblem(request);
      if (csrf) return sendProblem(reply, problem(PROBLEMS.csrfRejected, csrf));
      if (!allowed(principal.role)) return forbidden(reply, principal, needs);
      request.principal = principal;
      return;
    }
    if (token === undefined) {
      return reject(
        reply,
        throttle,
        request.ip,
        `Missing credentials: send "Authorization: Bearer <token>" with a ${needs} token (printed at first start, or set by TOLLGATE_${"roles" in rule ? "SERVICE" : "ADMIN"}_TOKEN).`,
      );
    }
    const principal = resolveToken(catalog, token);
    if (!principal) {
      return reject(
        reply,
        throttle,
        request.ip,
        "Invalid or revoked token: check the token you send, or ask an admin for a new one.",
      );
    }
    if (!allowed(principal.role)) return forbidden(reply, principal, needs);
    request.principal = principal;
  };
}
