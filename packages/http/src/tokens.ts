import type { Decision, Limiter } from "@tollgate/core";

/** Characters per token for estimates: the usual rule of thumb for English text with GPT-style tokenizers. */
const CHARS_PER_TOKEN = 4;
/** Completion budget assumed when a request names none. */
export const DEFAULT_MAX_TOKENS = 1024;
/** JSON bodies longer than this are not buffered for their `usage` (the stream estimate is used). */
const MAX_JSON_BYTES = 1 << 20;

const textLength = (value: unknown) => (value === undefined ? 0 : JSON.stringify(value).length);

/** Prompt size in tokens, estimated from an OpenAI-compatible request body. */
export function promptTokens(body: unknown): number {
  if (typeof body !== "object" || body === null) return 0;
  const { messages, prompt, input } = body as Record<string, unknown>;
  return Math.ceil((textLength(messages) + textLength(prompt) + textLength(input)) / CHARS_PER_TOKEN);
}

/**
 * What an OpenAI-compatible request may spend: its prompt plus `max_tokens` (or
 * `max_completion_tokens`), the amount to reserve before calling the model.
 *
 * @example
 * estimateTokens({ max_tokens: 500, messages: [{ role: "user", content: "hi" }] }); // 500 + prompt
 */
export function estimateTokens(body: unknown, fallbackMax = DEFAULT_MAX_TOKENS): number {
  const record = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
  const max = record.max_tokens ?? record.max_completion_tokens;
  const completion = typeof max === "number" && Number.isInteger(max) && max >= 0 ? max : fallbackMax;
  return promptTokens(body) + completion;
}

/** `usage.total_tokens` of an OpenAI-compatible response or stream chunk. */
export function usageTokens(json: unknown): number | undefined {
  const usage = (json as { usage?: { total_tokens?: unknown } } | null)?.usage;
  const total = usage?.total_tokens;
  return typeof total === "number" && Number.isFinite(total) && total >= 0 ? Math.round(total) : undefined;
}

function contentOf(json: unknown): string {
  const choices = (json as { choices?: unknown } | null)?.choices;
  if (!Array.isArray(choices)) return "";
  return choices
    .map((choice) => choice?.delta?.content ?? choice?.message?.content ?? choice?.text ?? "")
    .filter((text): text is string => typeof text === "string")
    .join("");
}

/**
 * Watches a response body as it is written (JSON or `text/event-stream`) and tells how many
 * tokens it cost: the `usage.total_tokens` the provider reported (last SSE chunk or JSON body),
 * or, when the stream was cut before that arrived, the prompt plus what was produced so far.
 *
 * @example
 * const meter = new TokenMeter(promptTokens(body), "text/event-stream");
 * meter.write('data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n');
 * meter.tokens(); // prompt + 1
 */
export class TokenMeter {
  #usage: number | undefined;
  #contentChars = 0;
  #bytes = 0;
  #pending = "";
  readonly #decoder = new TextDecoder();
  readonly #sse: boolean;
  readonly #json: boolean;

  constructor(
    readonly prompt: number,
    contentType: string | undefined,
  ) {
    const type = (contentType ?? "").toLowerCase();
    this.#sse = type.includes("text/event-stream");
    this.#json = !this.#sse && type.includes("json");
  }

  /** Feeds one chunk of the response body. */
  write(chunk: string | Uint8Array): void {
    const text = typeof chunk === "string" ? chunk : this.#decoder.decode(chunk, { stream: true });
    this.#bytes += text.length;
    if (this.#sse) {
      const lines = (this.#pending + text).split("\n");
      this.#pending = lines.pop() ?? "";
      for (const line of lines) this.#line(line);
    } else if (this.#json && this.#pending.length < MAX_JSON_BYTES) {
      this.#pending += text;
    }
  }

  /** The body is complete: parse what was buffered. */
  end(): void {
    if (this.#sse) this.#line(this.#pending);
    else if (this.#json) this.#event(this.#pending);
    this.#pending = "";
  }

  #line(line: string): void {
    if (line.startsWith("data:")) this.#event(line.slice(5).trim());
  }

  #event(data: string): void {
    if (data === "" || data === "[DONE]") return;
    try {
      const json: unknown = JSON.parse(data);
      this.#usage = usageTokens(json) ?? this.#usage;
      this.#contentChars += contentOf(json).length;
    } catch {
      // Not JSON (or cut mid-object): the byte count still measures it.
    }
  }

  /** True once the provider reported the real figure. */
  get reported(): boolean {
    return this.#usage !== undefined;
  }

  /** Tokens to settle with: reported usage, else the prompt plus an estimate of what was produced. */
  tokens(): number {
    if (this.#usage !== undefined) return this.#usage;
    const produced = this.#contentChars > 0 ? this.#contentChars : this.#bytes;
    return this.prompt + Math.ceil(produced / CHARS_PER_TOKEN);
  }
}

/** What a metered response came to (see `BodyMeter`); a bare number is a token count. */
export interface MeteredOutcome {
  tokens: number;
  reported: boolean;
  status: number;
}

/** How a metered reservation ends. */
export interface FinishOptions {
  /**
   * An upstream error (HTTP 4xx/5xx) that reported no `usage` produced no tokens: refund the
   * reservation instead of charging the error body as if it were an answer. Default true.
   */
  refundErrors?: boolean;
}

/**
 * Ends a reservation exactly once, whichever comes first of "response finished" and "client went
 * away": settled with the reported usage, or refunded when the upstream failed without usage.
 * The limiter itself settles or refunds a decision at most once, so a handler that already
 * called `req.tollgate.refund()` (or `limiter.refund`) is not charged again here. Errors are
 * swallowed: the limiter already degrades on store failures.
 */
export function settleOnce(
  limiter: Limiter,
  decision: Decision | undefined,
  options: FinishOptions = {},
): (result: MeteredOutcome | number) => void {
  let done = decision?.receipt === undefined;
  const refundErrors = options.refundErrors ?? true;
  return (result) => {
    if (done || !decision) return;
    done = true;
    const outcome = typeof result === "number" ? { tokens: result, reported: true, status: 200 } : result;
    if (refundErrors && outcome.status >= 400 && !outcome.reported) {
      void limiter.refund(decision);
      return;
    }
    void limiter.settle(decision, Math.max(0, Math.round(outcome.tokens)));
  };
}

/** Options for reserving and settling token costs on an LLM endpoint. */
export interface TokenCostOptions<Req> extends FinishOptions {
  /** Tokens to reserve for a request. Default: prompt estimate + `max_tokens` from the JSON body. */
  estimate?: (req: Req) => number | Promise<number>;
}
