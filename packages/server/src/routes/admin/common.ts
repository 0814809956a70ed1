import type { ConfigError } from "@tollgate/core";
import type { Role } from "@tollgate/db";
import type { preHandlerHookHandler } from "fastify";
import { requireRole } from "../../auth.js";
import type { ServerContext } from "../../context.js";
import { problem } from "../../problem.js";

/** preHandler for an admin route needing at least `minimum`. */
export const atLeast = (ctx: ServerContext, minimum: Exclude<Role, "service">): preHandlerHookHandler =>
  requireRole(ctx.catalog, ctx.throttle, { minimum }, ctx.sessions);

/** Who did it, for the audit log (token id and name, never the token). */
export const actorOf = (request: { principal?: { id: string; name: string; role: string } }) =>
  request.principal ? `${request.principal.role}:${request.principal.name} (${request.principal.id})` : "unknown";

/** A ConfigError from core as a 400 problem listing every issue under `prefix`. */
export function configProblem(error: ConfigError, prefix: string) {
  const issues = error.issues.map((i) => ({ path: prefix ? `${prefix}.${i.path}` : i.path, message: i.message }));
  return problem(400, `Invalid limits: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`, {
    field: issues[0]?.path ?? prefix,
    issues,
  });
}

export const security: Record<string, string[]>[] = [{ bearer: [] }, { session: [] }];
