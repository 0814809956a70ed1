import type { SinkConfig } from "../config.js";
import type { AlertLogger } from "../logger.js";
import { discordSink } from "./discord.js";
import type { Poster } from "./http.js";
import { logSink } from "./log.js";
import { slackSink } from "./slack.js";
import type { Sink } from "./types.js";
import { webhookSink } from "./webhook.js";

export { discordMessage } from "./discord.js";
export { slackMessage } from "./slack.js";
export type { Attempt, SendOutcome, Sink } from "./types.js";

export interface SinkDeps {
  post: Poster;
  logger: AlertLogger;
  /** Wall time in ms, for signature timestamps. */
  now: () => number;
}

/** Builds the sink a config entry describes. */
export function createSink(name: string, config: SinkConfig, deps: SinkDeps): Sink {
  switch (config.type) {
    case "webhook":
      return webhookSink(name, config, deps.post, deps.now);
    case "slack":
      return slackSink(name, config, deps.post);
    case "discord":
      return discordSink(name, config, deps.post);
    case "log":
      return logSink(name, config, deps.logger);
  }
}
