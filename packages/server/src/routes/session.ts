import { z } from "zod";
import { resolveToken, tokenById } from "../auth.js";
import type { ServerContext } from "../context.js";
import { problem, sendProblem } from "../problem.js";
import { errors } from "../schemas.js";
import { CSRF_HEADER, csrfProblem, SESSION_COOKIE, sessionCookie, setSessionCookie } from "../session.js";
import type { App } from "./types.js";

const sessionSchema = z
  .object({
    name: z.string(),
    role: z.enum(["admin", "operator", "readonly"]),
    expiresAt: z.string().describe("When the session ends; sign in again after."),
  })
  .meta({ id: "Session" });

const csrfHeaders = z.looseObject({
  // Checked by csrfProblem (403 with an explanation); declared here for the OpenAPI document.
  [CSRF_HEADER]: z.string().optional().describe('Required, "1": proves the call comes from a page of this server.'),
});

/**
 * Dashboard sign-in: trade an admin-API token (any role) for an HttpOnly, SameSite=Strict session
 * cookie, so the token never sits in the page's JavaScript-readable storage. Admin routes accept
 * the cookie in place of the bearer token; changes made with it must carry `x-tollgate-csrf: 1`.
 */
export function sessionRoutes(app: App, ctx: ServerContext) {
  const { catalog, sessions, throttle } = ctx;

  app.post(
    "/v1/session",
    {
      schema: {
        tags: ["admin"],
        summary: `Sign in to the dashboard with an admin token: sets the ${SESSION_COOKIE} cookie`,
        headers: csrfHeaders,
        body: z.strictObject({ token: z.string().min(1).max(512) }),
        response: { 200: sessionSchema, ...errors(400, 401, 403, 429) },
      },
    },
    async (request, reply) => {
      const csrf = csrfProblem(request);
      if (csrf) return sendProblem(reply, problem(403, csrf));
      const wait = await throttle.blocked(request.ip);
      if (wait !== undefined) {
        reply.header("Retry-After", String(wait));
        return sendProblem(reply, problem(429, `Too many failed sign-ins from this address. Try again in ${wait} s.`));
      }
      const principal = resolveToken(catalog, request.body.token);
      if (!principal) {
        const blocked = await throttle.fail(request.ip);
        if (blocked !== undefined) reply.header("Retry-After", String(blocked));
        return sendProblem(
          reply,
          blocked !== undefined
            ? problem(429, `Too many failed sign-ins from this address. Try again in ${blocked} s.`)
            : problem(401, "That token is not valid: paste an admin, operator or readonly token.", { field: "token" }),
        );
      }
      if (principal.role === "service") {
        return sendProblem(
          reply,
          problem(
            403,
            "A service token calls the decision API only. Sign in with an admin, operator or readonly token.",
            { field: "token" },
          ),
        );
      }
      const issued = sessions.issue(principal.id);
      setSessionCookie(request, reply, issued.value, sessions.lifetimeMs);
      reply.header("cache-control", "no-store");
      return {
        name: principal.name,
        role: principal.role,
        expiresAt: new Date(issued.expiresAt).toISOString(),
      };
    },
  );

  app.get(
    "/v1/session",
    {
      schema: {
        tags: ["admin"],
        summary: "The dashboard session of this browser (401 when signed out)",
        response: { 200: sessionSchema, ...errors(401) },
      },
    },
    async (request, reply) => {
      const claims = sessions.verify(sessionCookie(request));
      const principal = claims ? tokenById(catalog, claims.tokenId) : undefined;
      if (!claims || !principal || principal.role === "service") {
        return sendProblem(reply, problem(401, "Not signed in."));
      }
      reply.header("cache-control", "no-store");
      return {
        name: principal.name,
        role: principal.role,
        expiresAt: new Date(claims.expiresAt).toISOString(),
      };
    },
  );

  app.delete(
    "/v1/session",
    {
      schema: {
        tags: ["admin"],
        summary: "Sign out: clears the session cookie",
        headers: csrfHeaders,
        response: { 204: z.null(), ...errors(403) },
      },
    },
    async (request, reply) => {
      const csrf = csrfProblem(request);
      if (csrf) return sendProblem(reply, problem(403, csrf));
      setSessionCookie(request, reply, undefined);
      return reply.code(204).send(null);
    },
  );
}
