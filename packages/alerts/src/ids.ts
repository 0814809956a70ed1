import { hash } from "node:crypto";

// One-shot hash: a third of createHash's cost per call, and ids are made for every alert.
const digest = (text: string) => hash("sha256", text, "base64url").slice(0, 22);

/** The event id: a digest of its dedupe key, so every instance names the same event alike. */
export const eventId = (dedupeKey: string) => `evt_${digest(dedupeKey)}`;

/** The delivery id of one event to one sink: `X-Tollgate-Delivery`, stable across retries and instances. */
export const deliveryId = (event: string, sink: string) => `dlv_${digest(`${event}|${sink}`)}`;
