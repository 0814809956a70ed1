import { CHARS_PER_TOKEN, producedText } from "@tollgate/llm";

/** One server-sent event as received: its raw text (without the blank line) and its parsed data. */
export interface SseEvent {
  raw: string;
  /** The `data:` payload parsed as JSON; undefined for `[DONE]`, comments or non-JSON data. */
  json: unknown;
}

/**
 * Splits a text stream into complete server-sent events (separated by a blank line, `\n\n` or
 * `\r\n\r\n`), keeping the part of an event that has not fully arrived for the next chunk.
 */
export class SseSplitter {
  #pending = "";

  push(text: string): SseEvent[] {
    this.#pending += text;
    const events: SseEvent[] = [];
    for (;;) {
      const match = /\r?\n\r?\n/.exec(this.#pending);
      if (!match) break;
      const raw = this.#pending.slice(0, match.index);
      this.#pending = this.#pending.slice(match.index + match[0].length);
      events.push(parse(raw));
    }
    return events;
  }

  /** What is left when the stream ends (an event without its final blank line). */
  rest(): SseEvent | undefined {
    const raw = this.#pending;
    this.#pending = "";
    return raw.trim() === "" ? undefined : parse(raw);
  }
}

function parse(raw: string): SseEvent {
  const data = raw
    .split(/\r?\n/)
    .filter((line) => line.startsWith("data:"))
    .map((line) => line.slice(5).trimStart())
    .join("\n");
  if (data === "" || data === "[DONE]") return { raw, json: undefined };
  try {
    return { raw, json: JSON.parse(data) as unknown };
  } catch {
    return { raw, json: undefined };
  }
}

/** Output tokens of the text an event adds (the gateway's estimate while no usage is reported). */
export const eventChars = (event: SseEvent): number => producedText(event.json).length;

export const tokensOfChars = (chars: number): number => Math.ceil(chars / CHARS_PER_TOKEN);

/** A Chat Completions chunk that only carries usage (`choices: []`), sent because the gateway asked for it. */
export function isUsageOnlyChunk(json: unknown): boolean {
  if (typeof json !== "object" || json === null) return false;
  const record = json as { choices?: unknown; usage?: unknown };
  return Array.isArray(record.choices) && record.choices.length === 0 && record.usage != null;
}
