import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { Agent as UndiciAgent, request as undiciRequest } from "undici";
import { redactIn } from "../redact.js";
import type { SendOutcome } from "./types.js";

/** Sends one JSON POST; never throws (failures are outcomes). `close` drops idle connections. */
export type Poster = ((
  url: string,
  body: string,
  headers: Record<string, string>,
  signal: AbortSignal,
) => Promise<SendOutcome>) & { close(): void };

/** Most a receiver may ask us to wait (Retry-After) before the next try. */
const MAX_RETRY_AFTER_MS = 300_000;
/** Enough of an error body to say what went wrong. */
const MAX_ERROR_BODY = 200;

function retryAfterMs(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, MAX_RETRY_AFTER_MS);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.min(Math.max(0, date - Date.now()), MAX_RETRY_AFTER_MS);
}

/** The network failure in words: refused, reset, timed out (from the abort reason), ... */
function describe(error: unknown, signal: AbortSignal): string {
  if (signal.aborted) {
    const reason = signal.reason as Error | undefined;
    return reason?.name === "TimeoutError"
      ? "timed out waiting for the receiver"
      : `aborted: ${reason?.message ?? "closed"}`;
  }
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  return code && !message.includes(code) ? `${message} (${code})` : message;
}

function outcomeOf(response: IncomingMessage, text: string, url: string): SendOutcome {
  const status = response.statusCode ?? 0;
  if (status >= 200 && status < 300) return { ok: true, status };
  const header = response.headers["retry-after"];
  return failure(status, text, url, Array.isArray(header) ? header[0] : header);
}

/** A receiver's non-2xx answer as an outcome. */
function failure(status: number, text: string, url: string, retryAfter: string | undefined): SendOutcome {
  // 3xx is not followed: a webhook that moved must be reconfigured, not chased.
  const retryable = status === 408 || status === 429 || status >= 500;
  const wait = retryAfterMs(retryAfter);
  const snippet = text.replace(/\s+/g, " ").trim().slice(0, MAX_ERROR_BODY);
  return {
    ok: false,
    retryable,
    status,
    error: redactIn(`receiver answered HTTP ${status}${snippet ? `: ${snippet}` : ""}`, url),
    ...(wait !== undefined ? { retryAfterMs: wait } : {}),
  };
}

/**
 * POSTs with node:http(s) over keep-alive connections: several times cheaper per request than
 * fetch, which matters when thousands of alerts go out. 2xx is delivered; 408, 429, 5xx and
 * network failures are worth another try; any other status is final. Errors never show the URL.
 */
export function nodePoster(): Poster {
  const agents = {
    http: new HttpAgent({ keepAlive: true, maxSockets: 16 }),
    https: new HttpsAgent({ keepAlive: true, maxSockets: 16 }),
  };
  const post = (url: string, body: string, headers: Record<string, string>, signal: AbortSignal) =>
    new Promise<SendOutcome>((resolve) => {
      const secure = url.startsWith("https:");
      let settled = false;
      const finish = (outcome: SendOutcome) => {
        if (settled) return;
        settled = true;
        resolve(outcome);
      };
      try {
        const request = (secure ? httpsRequest : httpRequest)(
          url,
          {
            method: "POST",
            agent: secure ? agents.https : agents.http,
            headers: {
              "content-type": "application/json",
              "content-length": String(Buffer.byteLength(body)),
              "user-agent": "tollgate-alerts",
              ...headers,
            },
            signal,
          },
          (response) => {
            let text = "";
            response.setEncoding("utf8");
            // The body is read to the end (the connection is then reused), kept only in part.
            response.on("data", (chunk: string) => {
              if (text.length < MAX_ERROR_BODY) text += chunk;
            });
            response.on("end", () => finish(outcomeOf(response, text, url)));
            response.on("error", (error) =>
              finish({ ok: false, retryable: true, error: redactIn(describe(error, signal), url) }),
            );
          },
        );
        request.on("error", (error) =>
          finish({ ok: false, retryable: true, error: redactIn(describe(error, signal), url) }),
        );
        request.end(body);
      } catch (error) {
        finish({ ok: false, retryable: false, error: redactIn(describe(error, signal), url) });
      }
    });
  return Object.assign(post, {
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  });
}

/**
 * POSTs with undici over keep-alive connections (up to 16 per receiver): less CPU per request
 * than node:http, which matters when thousands of alerts go out. Same outcomes as `nodePoster`.
 */
export function undiciPoster(): Poster {
  const agent = new UndiciAgent({ connections: 16, keepAliveTimeout: 10_000 });
  const post = async (
    url: string,
    body: string,
    headers: Record<string, string>,
    signal: AbortSignal,
  ): Promise<SendOutcome> => {
    try {
      const response = await undiciRequest(url, {
        method: "POST",
        dispatcher: agent,
        headers: { "content-type": "application/json", "user-agent": "tollgate-alerts", ...headers },
        body,
        signal,
      });
      const status = response.statusCode;
      if (status >= 200 && status < 300) {
        // Read to the end so the connection is reused; the body of a success is not needed.
        await response.body.dump();
        return { ok: true, status };
      }
      const text = (await response.body.text()).slice(0, MAX_ERROR_BODY * 2);
      const header = response.headers["retry-after"];
      return failure(status, text, url, Array.isArray(header) ? header[0] : header);
    } catch (error) {
      return { ok: false, retryable: !(error instanceof TypeError), error: redactIn(describe(error, signal), url) };
    }
  };
  return Object.assign(post, {
    close() {
      void agent.destroy();
    },
  });
}
