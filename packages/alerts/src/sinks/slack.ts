import type { SinkConfig } from "../config.js";
import { fieldsOf, headline, titleOf } from "../format.js";
import { redactUrl } from "../redact.js";
import type { AlertEvent } from "../types.js";
import { sinkBase } from "./base.js";
import type { Poster } from "./http.js";
import type { Sink } from "./types.js";

const ICON = { info: ":information_source:", warning: ":warning:", critical: ":rotating_light:" } as const;

/** Slack mrkdwn treats &, < and > as markup: subject ids and categories are data. */
const escapeMrkdwn = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** The Slack incoming-webhook message for an event: header, headline with fields, context line. */
export function slackMessage(event: AlertEvent) {
  const text = `${ICON[event.severity]} ${headline(event)}`;
  return {
    text: escapeMrkdwn(text),
    blocks: [
      { type: "header", text: { type: "plain_text", text: `${titleOf(event)} (${event.severity})`, emoji: true } },
      {
        type: "section",
        text: { type: "mrkdwn", text: escapeMrkdwn(text) },
        // Slack shows at most 10 fields per section.
        fields: fieldsOf(event)
          .slice(0, 10)
          .map(([label, value]) => ({ type: "mrkdwn", text: `*${label}*\n${escapeMrkdwn(value)}` })),
      },
      {
        type: "context",
        elements: [{ type: "mrkdwn", text: escapeMrkdwn(`${event.type} · ${event.id} · ${event.time}`) }],
      },
    ],
  };
}

/** Posts to a Slack incoming webhook (the URL is the credential: it is only ever shown redacted). */
export function slackSink(name: string, config: Extract<SinkConfig, { type: "slack" }>, post: Poster): Sink {
  return {
    name,
    type: "slack",
    target: redactUrl(config.url),
    ...sinkBase(config),
    send: (event, attempt) => post(config.url, JSON.stringify(slackMessage(event)), {}, attempt),
  };
}
