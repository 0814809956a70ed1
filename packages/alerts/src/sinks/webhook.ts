import type { SinkConfig } from "../config.js";
import { redactUrl } from "../redact.js";
import { signatureHeader } from "../signature.js";
import { type SinkBase, sinkBase } from "./base.js";
import type { Poster } from "./http.js";
import type { Sink } from "./types.js";

type WebhookConfig = Extract<SinkConfig, { type: "webhook" }>;

/**
 * POSTs the event as JSON with `X-Tollgate-Event`, `X-Tollgate-Delivery` (the same on every retry)
 * and, with a secret, `X-Tollgate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
 */
export function webhookSink(name: string, config: WebhookConfig, post: Poster, now: () => number): Sink {
  const base: SinkBase = sinkBase(config);
  return {
    name,
    type: "webhook",
    target: redactUrl(config.url),
    ...base,
    send(event, attempt) {
      const body = JSON.stringify(event);
      const headers: Record<string, string> = {
        ...config.headers,
        "x-tollgate-event": event.type,
        "x-tollgate-delivery": attempt.deliveryId,
      };
      if (config.secret)
        headers["x-tollgate-signature"] = signatureHeader(config.secret, body, Math.floor(now() / 1000));
      return post(config.url, body, headers, attempt);
    },
  };
}
