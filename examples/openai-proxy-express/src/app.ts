// An OpenAI-compatible proxy: callers use any OpenAI SDK with this server as `baseURL` and their
// own API key for it; each key gets a request rate and a token budget. Tokens are reserved before
// the upstream call (prompt estimate + max_tokens) and settled from the `usage` the upstream
// reports, in a JSON answer or at the end of a stream, compressed or not. The upstream's bytes
// are passed through untouched.
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { type Clock, createLimiter, type Limiter, type LimitSpec, memoryStore, type Store } from "@tollgate/core";
import { rateLimit } from "@tollgate/http/express";
import express, { type Express as Application, type Request, type Response } from "express";

export interface ProxyOptions {
  /** The upstream's base URL, e.g. `https://api.openai.com/v1`. */
  upstream: string;
  /** The key the proxy itself uses upstream (never the caller's). */
  upstreamKey: string;
  limits?: LimitSpec[];
  clock?: Clock;
  store?: Store;
}

/** Per caller key: 60 requests in any rolling minute, 40,000 tokens in any rolling hour. */
export const DEFAULT_LIMITS: LimitSpec[] = [
  { name: "requests", per: "key", algorithm: "sliding-log", limit: 60, window: "1m" },
  { name: "tokens", per: "key", algorithm: "token-bucket", limit: 40_000, window: "1h", unit: "tokens" },
];

export function proxyLimiter(options: ProxyOptions): Limiter {
  return createLimiter({
    store: options.store ?? memoryStore(options.clock ? { clock: options.clock } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    limits: options.limits ?? DEFAULT_LIMITS,
  });
}

/** OpenAI's error shape, so SDKs raise their usual errors (RateLimitError, BadRequestError, ...). */
function openAiError(res: Response, status: number, message: string, type: string, code: string) {
  res.status(status).json({ error: { message, type, param: null, code } });
}

/** Request headers worth forwarding: content negotiation only; the caller's key stays here. */
function forwarded(headers: IncomingHttpHeaders, body: Buffer, upstreamKey: string) {
  const out: Record<string, string> = {
    "content-type": "application/json",
    "content-length": String(body.length),
    authorization: `Bearer ${upstreamKey}`,
  };
  for (const name of ["accept", "accept-encoding"]) {
    const value = headers[name];
    if (typeof value === "string") out[name] = value;
  }
  return out;
}

/** Response headers copied back: everything but hop-by-hop ones. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length"]);

export function createProxy(options: ProxyOptions): { app: Application; limiter: Limiter } {
  const limiter = proxyLimiter(options);
  const base = new URL(options.upstream.endsWith("/") ? options.upstream : `${options.upstream}/`);
  const app = express();
  app.use(express.json({ limit: "1mb" }));

  const limit = rateLimit(limiter, {
    // The caller's key is the subject: hashed before it becomes a counter id or shows in a decision.
    subject: (req) => ({ apiKey: req.header("authorization")?.replace(/^Bearer\s+/i, "") || undefined }),
    // Reserve prompt + max_tokens, settle with the upstream's reported usage; an upstream error
    // without usage is refunded (the default).
    tokens: true,
    headers: { openai: true },
    onDenied: (_req, res, _next, result) => {
      const { decision, body } = result;
      const code = decision?.reason ?? "rate_limit_exceeded";
      const type = code === "subject_missing" ? "invalid_request_error" : "rate_limit_error";
      const message =
        code === "subject_missing" ? "Send your API key as `Authorization: Bearer ...`." : String(body.detail);
      openAiError(res, result.status, message, type, code);
    },
  });

  app.post(["/v1/chat/completions", "/v1/completions", "/v1/embeddings"], limit, (req: Request, res: Response) => {
    const body = Buffer.from(JSON.stringify(req.body ?? {}));
    const target = new URL(req.path.replace(/^\/v1\//, ""), base);
    const send = target.protocol === "https:" ? httpsRequest : httpRequest;
    const upstream = send(target, { method: "POST", headers: forwarded(req.headers, body, options.upstreamKey) });
    upstream.on("response", (answer) => {
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
      }
      // Status, type and encoding as the upstream sent them; the meter reads them from writeHead.
      res.writeHead(answer.statusCode ?? 502, headers);
      answer.pipe(res);
    });
    upstream.on("error", async () => {
      // No answer at all: nothing was produced, give the whole reservation back.
      await req.tollgate?.refund();
      if (!res.headersSent) openAiError(res, 502, "The upstream is unreachable.", "api_error", "upstream_unavailable");
      else res.destroy();
    });
    // The client went away before the answer ended (`req` closes as soon as its body was read).
    res.on("close", () => {
      if (!res.writableEnded) upstream.destroy();
    });
    upstream.end(body);
  });
  return { app, limiter };
}
