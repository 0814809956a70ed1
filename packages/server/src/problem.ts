import { PROBLEM_CONTENT_TYPE, PROBLEMS, type Problem, type ProblemKind, problemOf } from "@tollgate/core";
import type { FastifyReply } from "fastify";

export type { Problem, ProblemKind } from "@tollgate/core";
export { PROBLEM_CONTENT_TYPE, PROBLEMS } from "@tollgate/core";

/** The kind a bare status stands for, for call sites that only know the status. */
const BY_STATUS: Record<number, ProblemKind> = {
  400: PROBLEMS.validationFailed,
  401: PROBLEMS.unauthenticated,
  403: PROBLEMS.forbiddenRole,
  404: PROBLEMS.notFound,
  405: PROBLEMS.methodNotAllowed,
  408: PROBLEMS.requestTimeout,
  409: PROBLEMS.conflict,
  413: PROBLEMS.payloadTooLarge,
  414: PROBLEMS.uriTooLong,
  415: PROBLEMS.unsupportedMediaType,
  422: PROBLEMS.idempotencyKeyReused,
  429: PROBLEMS.authThrottled,
  431: PROBLEMS.headersTooLarge,
  500: PROBLEMS.internalError,
  503: PROBLEMS.serviceUnavailable,
};

/**
 * A problem document of a catalogued kind (core's `PROBLEMS`). A bare status maps to the
 * kind that status means on this server; prefer naming the kind.
 */
export function problem(kind: ProblemKind | number, detail: string, members: Record<string, unknown> = {}): Problem {
  const resolved = typeof kind === "number" ? (BY_STATUS[kind] ?? PROBLEMS.internalError) : kind;
  return problemOf(resolved, detail, members);
}

/** Sends a problem document with its status and content type. */
export function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(body);
}
