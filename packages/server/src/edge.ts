import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { MethodIndex } from "./method-index.js";
import { PROBLEMS, type Problem, problem, sendProblem } from "./problem.js";
import type { App } from "./routes/types.js";
import { findUnstorableText } from "./storable-text.js";

/**
 * The server's edge: answers for requests that never reach a handler (unparseable HTTP, bad
 * URLs, oversize parameters or headers, wrong methods, unknown paths), all as
 * application/problem+json naming what is wrong, like every other error.
 */

/** Methods whose requests carry no body: `content-type: application/json` with nothing after it is fine. */
const BODYLESS = new Set(["GET", "HEAD", "DELETE", "OPTIONS"]);

/** The problem for an error Node's HTTP parser raises before Fastify sees a request. */
export function clientErrorProblem(code: string | undefined): Problem {
  switch (code) {
    case "HPE_HEADER_OVERFLOW":
      return problem(
        PROBLEMS.headersTooLarge,
        "headers: the request line and headers exceed the server's limit (16 KB).",
        {
          field: "headers",
        },
      );
    case "ERR_HTTP_REQUEST_TIMEOUT":
    case "ERR_HTTP_HEADERS_TIMEOUT":
      return problem(PROBLEMS.requestTimeout, "The request was not received in time.", { field: "request" });
    case "HPE_INVALID_METHOD":
      return problem(PROBLEMS.validationFailed, "method: not an HTTP method.", { field: "method" });
    case "HPE_INVALID_URL":
      return problem(PROBLEMS.validationFailed, "path: not a valid request target.", { field: "path" });
    case "HPE_INVALID_HEADER_TOKEN":
    case "HPE_INVALID_CONSTANT":
    case "HPE_LF_EXPECTED":
    case "HPE_CR_EXPECTED":
    case "HPE_UNEXPECTED_CONTENT_LENGTH":
    case "HPE_INVALID_CONTENT_LENGTH":
    case "HPE_INVALID_TRANSFER_ENCODING":
      return problem(PROBLEMS.validationFailed, "headers: malformed HTTP headers.", { field: "headers" });
    default:
      return problem(PROBLEMS.validationFailed, "request: malformed HTTP request.", { field: "request" });
  }
}

/** Fastify's `clientErrorHandler`: a problem+json answer written on the raw socket, then close. */
export function clientErrorHandler(error: Error & { code?: string }, socket: Duplex) {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const answer = clientErrorProblem(error.code);
  const body = JSON.stringify(answer);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\n` +
        `Content-Type: application/problem+json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** Fastify's `frameworkErrors`: URLs rejected by the router before any route runs. */
export function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply) {
  // The path itself is never echoed: it may hold anything, including a secret pasted by mistake.
  switch (error.code) {
    case "FST_ERR_MAX_PARAM_LENGTH":
      return sendProblem(
        reply,
        problem(PROBLEMS.uriTooLong, "path: a path parameter is longer than 256 characters.", { field: "path" }),
      );
    case "FST_ERR_BAD_URL":
      return sendProblem(
        reply,
        problem(PROBLEMS.validationFailed, "path: not a valid URL (malformed percent-encoding).", { field: "path" }),
      );
    default:
      return sendProblem(
        reply,
        problem(PROBLEMS.validationFailed, "request: the router refused this request.", { field: "request" }),
      );
  }
}

/**
 * Registers the edge on an app, before its routes: the method index (for 405), the JSON parser
 * that accepts an empty body on body-less methods, the check that refuses text the database
 * cannot store, and the 404/405 handler.
 */
export function installEdge(app: App) {
  const methods = new MethodIndex();
  app.addHook("onRoute", (route) => methods.add(route.url, route.method));

  const json = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    // Many HTTP clients send `content-type: application/json` on every call, DELETE included.
    if ((body as string).length === 0 && BODYLESS.has(request.method)) return done(null, undefined);
    json(request, body as string, done);
  });

  app.addHook("onRequest", async (request, reply) => {
    // HTTP/1.1 requires Host (RFC 9112 §3.2); refused here so the answer is a problem document.
    if (request.raw.httpVersion === "1.1" && !request.headers.host) {
      return sendProblem(
        reply,
        problem(PROBLEMS.validationFailed, "host: HTTP/1.1 requests need a Host header.", { field: "host" }),
      );
    }
  });

  app.addHook("preValidation", async (request, reply) => {
    // Bodies a route only forwards (the LLM gateway's prompts) are never stored: any text goes.
    const stored = (request.routeOptions.config as { forwardsBody?: boolean }).forwardsBody !== true;
    const found =
      findUnstorableText(request.params) ??
      findUnstorableText(request.query) ??
      (stored ? findUnstorableText(request.body) : undefined);
    if (found) {
      const field = found.path || "body";
      return sendProblem(reply, problem(PROBLEMS.validationFailed, `${field}: ${found.reason}.`, { field }));
    }
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0] as string;
    const allow = methods.allowed(path);
    if (allow.length > 0) {
      reply.header("Allow", allow.join(", "));
      return sendProblem(
        reply,
        problem(PROBLEMS.methodNotAllowed, `method: ${request.method} is not allowed here; use ${allow.join(", ")}.`, {
          field: "method",
        }),
      );
    }
    return sendProblem(
      reply,
      problem(PROBLEMS.notFound, `No route ${request.method} ${path.slice(0, 256)}. See /docs for the API.`, {
        field: "path",
      }),
    );
  });
}
