import { createHash } from "node:crypto";

const digest = (text: string) => createHash("sha256").update(text, "utf8").digest("base64url").slice(0, 22);

/** The event id: a digest of its dedupe key, so every instance names the same event alike. */
export const eventId = (dedupeKey: string) => `evt_${digest(dedupeKey)}`;

/** The delivery id of one event to one sink: `X-Tollgate-Delivery`, stable across retries and instances. */
export const deliveryId = (event: string, sink: string) => `dlv_${digest(`${event}|${sink}`)}`;
