import type { SinkConfig } from "../config.js";
import { fieldsOf, headline, titleOf } from "../format.js";
import { redactUrl } from "../redact.js";
import type { AlertEvent } from "../types.js";
import { sinkBase } from "./base.js";
import type { Poster } from "./http.js";
import type { Sink } from "./types.js";

const COLOR = { info: 0x3498db, warning: 0xf1c40f, critical: 0xe74c3c } as const;

/** The Discord webhook message for an event: one embed. Mentions are disabled (ids are data). */
export function discordMessage(event: AlertEvent) {
  return {
    username: "Tollgate",
    allowed_mentions: { parse: [] as string[] },
    embeds: [
      {
        title: `${titleOf(event)} (${event.severity})`,
        description: headline(event).slice(0, 4096),
        color: COLOR[event.severity],
        // Discord allows 25 fields; names up to 256 and values up to 1024 characters.
        fields: fieldsOf(event).map(([name, value]) => ({ name, value: value.slice(0, 1024), inline: true })),
        timestamp: event.time,
        footer: { text: `${event.type} · ${event.id}` },
      },
    ],
  };
}

/** Posts to a Discord channel webhook (the URL is the credential: it is only ever shown redacted). */
export function discordSink(name: string, config: Extract<SinkConfig, { type: "discord" }>, post: Poster): Sink {
  return {
    name,
    type: "discord",
    target: redactUrl(config.url),
    ...sinkBase(config),
    send: (event, attempt) => post(config.url, JSON.stringify(discordMessage(event)), {}, attempt),
  };
}
