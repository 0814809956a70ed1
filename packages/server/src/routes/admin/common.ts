import type { ConfigError } from "@tollgate/core";
import type { Role } from "@tollgate/db";
import type { preHandlerHookHandler } from "fastify";
import { requireRole } from "../../auth.js";
import type { ServerContext } from "../../context.js";
import { PROBLEMS, problem } from "../../problem.js";

/** preHandler for an admin route needing at least `minimum`. */
export const atLeast = (ctx: ServerContext, minimum: Exclude<Role, "service">): preHandlerHookHandler =>
  requireRole(ctx.catalog, ctx.throttle, { minimum }, ctx.sessions);

/** Who did it, for the audit log (token id and name, never the token). */
export const actorOf = (request: { principal?: { id: string; name: string; role: string } }) =>
  request.principal ? `${request.principal.role}:${request.principal.name} (${request.principal.id})` : "unknown";

/**
 * A ConfigError from validating the whole catalog, as a 400 naming the request's own fields.
 * Core reports paths in the catalog (`plans.team.limits[0].limit`); the client wrote
 * `limits[0].limit`, so the entry's prefix is dropped. For key overrides, validated merged into
 * the plan's limits, `indexOf` maps an index in the merged list back to the request's list.
 */
export function configProblem(error: ConfigError, entry: string, indexOf: (merged: number) => number = (i) => i) {
  const prefix = `${entry}.`;
  const issues = error.issues.map((issue) => {
    if (!issue.path.startsWith(prefix)) return { path: issue.path, message: issue.message };
    const own = issue.path.slice(prefix.length).replace(/^limits\[(\d+)\]/, (whole, i: string) => {
      const index = indexOf(Number(i));
      return index >= 0 ? `limits[${index}]` : whole;
    });
    return { path: own, message: issue.message };
  });
  return problem(
    PROBLEMS.validationFailed,
    `Invalid limits: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
    { field: issues[0]?.path ?? "limits", issues },
  );
}

export const security: Record<string, string[]>[] = [{ bearer: [] }, { session: [] }];
