import { PROBLEMS, type ProblemKind } from "@tollgate/core";
import type { Role } from "@tollgate/db";
import type { preHandlerHookHandler } from "fastify";
import type { ZodType } from "zod";
import { requireRole } from "../auth.js";
import type { ServerContext } from "../context.js";
import type { ResponseHeader } from "./headers.js";

/**
 * Who may call an operation: anyone, the holder of a dashboard session cookie (checked by the
 * handler), tokens with one of `roles`, or admin tokens (or a session) ranking at least `minimum`.
 */
export type Access = "public" | "session" | { roles: Role[] } | { minimum: Exclude<Role, "service"> };

/** A named example: `summary` says what it shows. */
export interface Example {
  summary: string;
  value: unknown;
}

/** A success response of an operation. */
export interface SuccessSpec {
  description: string;
  /** The body's schema (omit for an empty body, e.g. 204). */
  schema?: ZodType;
  /** Default `application/json`. */
  contentType?: string;
  headers?: ResponseHeader[];
  examples?: Record<string, Example>;
  /** Other media types the same status can answer (text formats), each with an example. */
  alternatives?: Record<string, Example>;
}

/** The zod schemas that validate a request; the document is generated from the same ones. */
export interface RequestSchemas {
  body?: ZodType;
  querystring?: ZodType;
  params?: ZodType;
  headers?: ZodType;
}

/**
 * Everything the API document says about one operation. Problem responses are derived from
 * what the operation reads (a body can be malformed, too large, of the wrong media type) and who
 * may call it (401, 403 and failed-auth 429 for every secured operation); `problems` adds the
 * ones only its handler answers (404 for an unknown id, 409, ...).
 */
export interface OperationSpec<R extends RequestSchemas, S extends Record<number, SuccessSpec>> {
  /** Unique, camelCase: client generators name methods after it. */
  id: string;
  tag: "decision" | "admin" | "operations" | "dashboard";
  summary: string;
  /** What it does and when to use it; the role needed is appended from `access`. */
  description: string;
  access: Access;
  request?: R;
  /** Named examples of the request body (every operation with a body needs one). */
  bodyExamples?: Record<string, Example>;
  /** One example value per query, path or header parameter. */
  parameterExamples?: Record<string, unknown>;
  responses: S;
  problems?: ProblemKind[];
}

/** What the document generator needs beyond the Fastify schema, by operationId. */
export interface OperationDoc {
  id: string;
  access: Access;
  bodyExamples: Record<string, Example>;
  parameterExamples: Record<string, unknown>;
  responses: Record<number, Omit<SuccessSpec, "schema"> & { hasBody: boolean }>;
  problems: ProblemKind[];
}

/** Filled as routes are defined; read once when the document is generated. */
export const operationDocs = new Map<string, OperationDoc>();

/** Problems any request can meet, whatever the operation. */
export const ANY_REQUEST_PROBLEMS: ProblemKind[] = [PROBLEMS.headersTooLarge, PROBLEMS.internalError];

function derivedProblems(spec: OperationSpec<RequestSchemas, Record<number, SuccessSpec>>): ProblemKind[] {
  const kinds: ProblemKind[] = [];
  const request = spec.request ?? {};
  if (request.body) {
    kinds.push(
      PROBLEMS.validationFailed,
      PROBLEMS.malformedBody,
      PROBLEMS.payloadTooLarge,
      PROBLEMS.unsupportedMediaType,
    );
  } else if (request.querystring || request.params || request.headers) {
    kinds.push(PROBLEMS.validationFailed);
  }
  // A path parameter longer than the router accepts (256 characters) is refused before validation.
  if (request.params) kinds.push(PROBLEMS.uriTooLong);
  if (typeof spec.access === "object")
    kinds.push(PROBLEMS.unauthenticated, PROBLEMS.forbiddenRole, PROBLEMS.authThrottled);
  if (spec.access === "session") kinds.push(PROBLEMS.unauthenticated);
  kinds.push(...(spec.problems ?? []), ...ANY_REQUEST_PROBLEMS);
  return [...new Set(kinds)];
}

/** The security requirement of each kind of access (the admin API also takes the dashboard's cookie). */
const SECURITY: Record<"public" | "session" | "decision" | "admin", Record<string, string[]>[]> = {
  public: [],
  session: [{ session: [] }],
  decision: [{ bearer: [] }],
  admin: [{ bearer: [] }, { session: [] }],
};

/** The sentence about roles appended to every description. */
export function accessSentence(access: Access): string {
  if (access === "public") return "Public: no token needed.";
  if (access === "session") return "Needs the dashboard session cookie (no bearer token).";
  if ("roles" in access) return `Needs a token with role ${access.roles.map((r) => `\`${r}\``).join(" or ")}.`;
  const ranks = { readonly: "readonly, operator or admin", operator: "operator or admin", admin: "admin" };
  return `Needs an admin-API token with role ${ranks[access.minimum]}.`;
}

type SuccessSchemas<S extends Record<number, SuccessSpec>> = {
  [K in keyof S]: S[K] extends { schema: infer T extends ZodType } ? T : never;
};

/**
 * A route's preHandler (the role check, absent on public routes) and its Fastify schema, from
 * one description. The schema validates requests with the zod schemas in `request`, and with
 * the rest (registered in `operationDocs`) becomes the operation in /openapi.json.
 *
 * @example
 * app.get("/v1/admin/plans", route(ctx, { id: "listPlans", tag: "admin", access: { minimum: "readonly" }, ... }), handler);
 */
export function route<R extends RequestSchemas, S extends Record<number, SuccessSpec>>(
  ctx: ServerContext,
  spec: OperationSpec<R, S>,
) {
  const problems = derivedProblems(spec);
  const responses: OperationDoc["responses"] = {};
  const response: Record<number, ZodType> = {};
  for (const [status, { schema, ...rest }] of Object.entries(spec.responses) as [string, SuccessSpec][]) {
    responses[Number(status)] = { ...rest, hasBody: schema !== undefined };
    if (schema) response[Number(status)] = schema;
  }
  operationDocs.set(spec.id, {
    id: spec.id,
    access: spec.access,
    bodyExamples: spec.bodyExamples ?? {},
    parameterExamples: spec.parameterExamples ?? {},
    responses,
    problems,
  });
  const schema = {
    operationId: spec.id,
    tags: [spec.tag],
    summary: spec.summary,
    description: `${spec.description}\n\n${accessSentence(spec.access)}`,
    security: SECURITY[typeof spec.access === "string" ? spec.access : "minimum" in spec.access ? "admin" : "decision"],
    ...(spec.request ?? ({} as R)),
    response: response as SuccessSchemas<S>,
  };
  const preHandler: preHandlerHookHandler | undefined =
    typeof spec.access === "string"
      ? undefined
      : // Admin routes also accept the dashboard's session cookie; the decision API takes tokens only.
        requireRole(ctx.catalog, ctx.throttle, spec.access, "minimum" in spec.access ? ctx.sessions : undefined);
  return preHandler ? { preHandler, schema } : { schema };
}
