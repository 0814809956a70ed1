import type { FastifyReply } from "fastify";

/** RFC 9457 problem details, the body of every error this server answers. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** The request field at fault (`subject.user`, `cost`, `body`). */
  field?: string;
  issues?: { path: string; message: string }[];
  [extra: string]: unknown;
}

const TITLES: Record<number, string> = {
  400: "Bad request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not found",
  405: "Method not allowed",
  408: "Request timeout",
  409: "Conflict",
  413: "Body too large",
  414: "URI too long",
  415: "Unsupported media type",
  422: "Unprocessable content",
  429: "Too many requests",
  431: "Request header fields too large",
  500: "Internal error",
  501: "Not implemented yet",
  503: "Unavailable",
};

export function problem(status: number, detail: string, extra: Partial<Problem> = {}): Problem {
  return {
    type: `https://tollgate.dev/problems/${(TITLES[status] ?? "error").toLowerCase().replace(/ /g, "-")}`,
    title: TITLES[status] ?? "Error",
    status,
    detail,
    ...extra,
  };
}

/** Sends a problem document with its status and content type. */
export function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
  return reply.code(body.status).type("application/problem+json").send(body);
}
