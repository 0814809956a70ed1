import pino, { type DestinationStream, type Logger } from "pino";
import { Counter, type Registry } from "prom-client";
import { LogOutput } from "./log-output.js";

/**
 * Paths pino replaces with "[redacted]": bearer tokens, raw API keys, issued secrets and
 * bring-your-own provider keys, wherever a log call might carry them.
 */
export const REDACT_PATHS = [
  "req.headers.authorization",
  'req.headers["x-api-key"]',
  'req.headers["x-openai-key"]',
  "headers.authorization",
  "*.apiKey",
  "*.*.apiKey",
  "*.secret",
  "*.token",
  "*.adminToken",
  "*.serviceToken",
  "*.decisionSecret",
  "apiKey",
  "secret",
  "token",
];

/**
 * The request as logged. The path is the matched route's template (`/v1/admin/keys/:id`), never
 * the raw URL, and the query keeps its parameter names, never their values: a secret a client
 * puts in a URL (`?apiKey=...`, a token as a path segment, even a plan an admin named after one)
 * never reaches the logs.
 */
export function requestForLog(request: {
  method: string;
  url: string;
  ip?: string;
  routeOptions?: { url?: string | undefined };
}) {
  const queryAt = request.url.indexOf("?");
  const query = queryAt === -1 ? "" : request.url.slice(queryAt + 1);
  const shownQuery = query
    ? `?${query
        .split("&")
        .map((pair) => {
          const eq = pair.indexOf("=");
          const name = eq === -1 ? pair : pair.slice(0, eq);
          const shownName = /^[A-Za-z0-9_.-]{1,32}$/.test(name) ? name : "[name]";
          return eq === -1 ? shownName : `${shownName}=[redacted]`;
        })
        .join("&")}`
    : "";
  let route: string | undefined;
  try {
    route = request.routeOptions?.url;
  } catch {
    // A request rejected before routing (bad URL) has no route context.
  }
  return {
    method: request.method,
    url: `${route ?? "(no matching route)"}${shownQuery}`,
    ...(request.ip ? { remoteAddress: request.ip } : {}),
  };
}

/**
 * An error as logged: its class, message, code and stack, nothing else. Database drivers attach
 * the failing query's parameters (secret hashes, key prefixes) and detail lines quoting stored
 * values to their errors; those fields are dropped here by construction.
 */
export function errorForLog(error: unknown) {
  if (!(error instanceof Error)) return { message: String(error) };
  const code = (error as { code?: unknown }).code;
  return {
    type: error.constructor?.name ?? "Error",
    message: error.message,
    ...(typeof code === "string" || typeof code === "number" ? { code } : {}),
    ...(error.stack ? { stack: error.stack } : {}),
  };
}

/**
 * The server's JSON logger (pino), with redaction. Lines go to `destination`: by default stdout
 * through a bounded asynchronous buffer (log-output.ts), so a log reader that stops reading never
 * stalls the server; tests pass a capture stream.
 */
export function createLogger(level: string, destination: DestinationStream = new LogOutput()): Logger {
  const logger = pino(
    {
      level,
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      base: { service: "tollgate" },
      serializers: { req: requestForLog, err: errorForLog },
    },
    destination,
  );
  if (destination instanceof LogOutput) {
    destination.onDropsEnded = (droppedLines) =>
      logger.warn({ droppedLines }, "log lines dropped: stdout was not read fast enough (log.bufferBytes full)");
  }
  return logger;
}

/** `tollgate_log_lines_dropped_total`: lines a full log buffer or a vanished reader lost. */
export function registerLogDropMetric(registry: Registry, destination: DestinationStream): void {
  let counted = 0;
  new Counter({
    name: "tollgate_log_lines_dropped_total",
    help: "Log lines dropped because stdout's reader did not keep up (buffer of log.bufferBytes full) or was gone.",
    registers: [registry],
    collect() {
      const dropped = destination instanceof LogOutput ? destination.dropped : 0;
      if (dropped > counted) this.inc(dropped - counted);
      counted = dropped;
    },
  });
}
