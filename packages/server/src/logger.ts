import pino, { type DestinationStream, type Logger } from "pino";

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

/** The server's JSON logger (pino), with redaction; `destination` lets tests capture it. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    { level, redact: { paths: REDACT_PATHS, censor: "[redacted]" }, base: { service: "tollgate" } },
    destination ?? pino.destination(1),
  );
}
