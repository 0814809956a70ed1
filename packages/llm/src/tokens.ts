import type { Decision, Limiter } from "@tollgate/core";

/** Characters per token for estimates: the usual rule of thumb for English text with GPT-style tokenizers. */
export const CHARS_PER_TOKEN = 4;
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
  return promptTokens(body) + maxOutputTokens(body, fallbackMax);
}

/**
 * The most output a request allows: `max_tokens`, `max_completion_tokens` (Chat Completions) or
 * `max_output_tokens` (Responses API), else `fallbackMax`.
 */
export function maxOutputTokens(body: unknown, fallbackMax = DEFAULT_MAX_TOKENS): number {
  const record = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
  const max = record.max_tokens ?? record.max_completion_tokens ?? record.max_output_tokens;
  return typeof max === "number" && Number.isInteger(max) && max >= 0 ? max : fallbackMax;
}

/**
 * Token counts an OpenAI-compatible upstream reported: Chat Completions and embeddings
 * (`prompt_tokens`, `completion_tokens`), the Responses API (`input_tokens`, `output_tokens`), and
 * the cached part of the input where the upstream reports it.
 */
export interface TokenUsage {
  /** Input (prompt) tokens, cached ones included. */
  input: number;
  /** Output (completion) tokens. */
  output: number;
  /** The part of `input` served from the provider's prompt cache (billed at the cached-input price). */
  cached: number;
  total: number;
}

const count = (value: unknown) =>
  typeof value === "number" && Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined;

/**
 * The `usage` of an OpenAI-compatible response, stream chunk or Responses API event
 * (`response.completed` carries it in `response.usage`), or undefined when it has none.
 *
 * @example
 * usageOf({ usage: { prompt_tokens: 12, completion_tokens: 30, total_tokens: 42 } });
 * // { input: 12, output: 30, cached: 0, total: 42 }
 */
export function usageOf(json: unknown): TokenUsage | undefined {
  if (typeof json !== "object" || json === null) return undefined;
  const record = json as { usage?: unknown; response?: { usage?: unknown } };
  const usage = (record.usage ?? record.response?.usage) as Record<string, unknown> | null | undefined;
  if (typeof usage !== "object" || usage === null) return undefined;
  const input = count(usage.prompt_tokens ?? usage.input_tokens);
  const output = count(usage.completion_tokens ?? usage.output_tokens) ?? 0;
  const total = count(usage.total_tokens) ?? (input === undefined ? undefined : input + output);
  if (total === undefined) return undefined;
  const details = (usage.prompt_tokens_details ?? usage.input_tokens_details) as Record<string, unknown> | undefined;
  const inputTokens = input ?? Math.max(0, total - output);
  const cached = Math.min(inputTokens, count(details?.cached_tokens) ?? 0);
  return { input: inputTokens, output, cached, total };
}

/** `usage.total_tokens` of an OpenAI-compatible response or stream chunk. */
export function usageTokens(json: unknown): number | undefined {
  return usageOf(json)?.total;
}

/**
 * Text an answer produced: chat deltas and messages, completions' `text`, Responses API deltas.
 * About 4 characters make a token when no usage is reported.
 */
export function producedText(json: unknown): string {
  if (typeof json !== "object" || json === null) return "";
  const record = json as { choices?: unknown; type?: unknown; delta?: unknown };
  if (typeof record.type === "string" && record.type.endsWith(".delta") && typeof record.delta === "string") {
    return record.delta;
  }
  const choices = record.choices;
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
  #usage: TokenUsage | undefined;
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
      this.#usage = usageOf(json) ?? this.#usage;
      this.#contentChars += producedText(json).length;
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
    return this.usage().total;
  }

  /** Output tokens so far: the reported figure, else the text produced so far (about 4 characters a token). */
  outputTokens(): number {
    if (this.#usage !== undefined) return this.#usage.output;
    const produced = this.#contentChars > 0 ? this.#contentChars : this.#bytes;
    return Math.ceil(produced / CHARS_PER_TOKEN);
  }

  /** The reported usage, else the prompt estimate plus the output counted so far. */
  usage(): TokenUsage {
    if (this.#usage !== undefined) return this.#usage;
    const output = this.outputTokens();
    return { input: this.prompt, output, cached: 0, total: this.prompt + output };
  }
}

/** What a metered response came to (see `BodyMeter`); a bare number is a token count. */
export interface MeteredOutcome {
  tokens: number;
  reported: boolean;
  status: number;
  /** What the call cost in micro-dollars, for `unit: usd` limits (see `costMicroUsd`). */
  microUsd?: number;
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
    const money =
      "microUsd" in outcome && outcome.microUsd !== undefined ? Math.max(0, Math.ceil(outcome.microUsd)) : undefined;
    void limiter.settle(decision, Math.max(0, Math.round(outcome.tokens)), money);
  };
}

/** Options for reserving and settling token costs on an LLM endpoint. */
export interface TokenCostOptions<Req> extends FinishOptions {
  /** Tokens to reserve for a request. Default: prompt estimate + `max_tokens` from the JSON body. */
  estimate?: (req: Req) => number | Promise<number>;
}
