import { z } from "zod";
import { resolveToken, tokenById } from "../auth.js";
import type { ServerContext } from "../context.js";
import { route } from "../openapi/operation.js";
import { PROBLEMS, problem, sendProblem } from "../problem.js";
import { CSRF_HEADER, csrfProblem, SESSION_COOKIE, sessionCookie, setSessionCookie } from "../session.js";
import type { App } from "./types.js";

const sessionSchema = z
  .object({
    name: z.string(),
    role: z.enum(["admin", "operator", "readonly"]),
    expiresAt: z.string().describe("When the session ends; sign in again after."),
  })
  .meta({ id: "Session" });

const SESSION = { name: "alice", role: "operator", expiresAt: "2026-03-10T20:00:00.000Z" };

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
    route(ctx, {
      id: "signIn",
      tag: "dashboard",
      summary: "Sign in to the dashboard",
      description: `Trades an admin-API token (admin, operator or readonly) for an HttpOnly, SameSite=Strict session cookie (\`${SESSION_COOKIE}\`), so the token never sits in the page's storage. Send \`${CSRF_HEADER}: 1\`. Failed sign-ins count toward the per-address failed-authentication limit.`,
      access: "public",
      request: { headers: csrfHeaders, body: z.strictObject({ token: z.string().min(1).max(512) }) },
      parameterExamples: { [CSRF_HEADER]: "1" },
      bodyExamples: {
        operator: {
          summary: "An operator signs in",
          value: { token: "tg_ope_Qm3vX8kL2pN7rT1wY5zB9cD4fG6hJ0aS2eU8iO3qW5" },
        },
      },
      responses: {
        200: {
          description: "Signed in; the response sets the session cookie.",
          schema: sessionSchema,
          headers: ["Set-Cookie"],
          examples: { operator: { summary: "Signed in", value: SESSION } },
        },
      },
      problems: [PROBLEMS.unauthenticated, PROBLEMS.forbiddenRole, PROBLEMS.csrfRejected, PROBLEMS.authThrottled],
    }),
    async (request, reply) => {
      const csrf = csrfProblem(request);
      if (csrf) return sendProblem(reply, problem(PROBLEMS.csrfRejected, csrf));
      const wait = await throttle.blocked(request.ip);
      if (wait !== undefined) {
        reply.header("Retry-After", String(wait));
        return sendProblem(
          reply,
          problem(PROBLEMS.authThrottled, `Too many failed sign-ins from this address. Try again in ${wait} s.`, {
            retryAfter: wait,
          }),
        );
      }
      const principal = resolveToken(catalog, request.body.token);
      if (!principal) {
        const blocked = await throttle.fail(request.ip);
        if (blocked !== undefined) reply.header("Retry-After", String(blocked));
        // RFC 9110: a 401 names the scheme to use.
        else reply.header("WWW-Authenticate", 'Bearer realm="tollgate"');
        return sendProblem(
          reply,
          blocked !== undefined
            ? problem(
                PROBLEMS.authThrottled,
                `Too many failed sign-ins from this address. Try again in ${blocked} s.`,
                {
                  retryAfter: blocked,
                },
              )
            : problem(
                PROBLEMS.unauthenticated,
                "That token is not valid: paste an admin, operator or readonly token.",
                { field: "token" },
              ),
        );
      }
      if (principal.role === "service") {
        return sendProblem(
          reply,
          problem(
            PROBLEMS.forbiddenRole,
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
    route(ctx, {
      id: "getSession",
      tag: "dashboard",
      summary: "The dashboard session of this browser",
      description: "Who is signed in with the session cookie and until when; 401 when signed out.",
      access: "session",
      responses: {
        200: {
          description: "The session.",
          schema: sessionSchema,
          examples: { operator: { summary: "Signed in", value: SESSION } },
        },
      },
    }),
    async (request, reply) => {
      const claims = sessions.verify(sessionCookie(request));
      const principal = claims ? tokenById(catalog, claims.tokenId) : undefined;
      if (!claims || !principal || principal.role === "service") {
        reply.header("WWW-Authenticate", 'Bearer realm="tollgate"');
        return sendProblem(reply, problem(PROBLEMS.unauthenticated, "Not signed in."));
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
    route(ctx, {
      id: "signOut",
      tag: "dashboard",
      summary: "Sign out of the dashboard",
      description: "Clears the session cookie. Send `x-tollgate-csrf: 1`.",
      access: "session",
      request: { headers: csrfHeaders },
      parameterExamples: { [CSRF_HEADER]: "1" },
      responses: { 204: { description: "Signed out." } },
    }),
    async (request, reply) => {
      const csrf = csrfProblem(request);
      if (csrf) return sendProblem(reply, problem(PROBLEMS.csrfRejected, csrf));
      setSessionCookie(request, reply, undefined);
      return reply.code(204).send();
    },
  );
}
