import { brotliDecompressSync, constants, gunzipSync, inflateRawSync, inflateSync } from "node:zlib";
import { TokenMeter, type TokenUsage } from "./tokens.js";

/** Compressed bytes kept for counting at most; past this the reservation stands (LLM answers are far smaller). */
const MAX_ENCODED_BYTES = 8 << 20;

type Encoding = "gzip" | "br" | "deflate";

function encodingOf(header: string | undefined): Encoding | undefined {
  const value = (header ?? "").trim().toLowerCase();
  if (value === "gzip" || value === "x-gzip") return "gzip";
  if (value === "br") return "br";
  if (value === "deflate") return "deflate";
  return undefined;
}

/**
 * Decodes what arrived so far. A body cut short (client gone mid-stream) is decoded as far as it
 * goes (sync flush) instead of failing. `deflate` is zlib-wrapped by the standard and raw by some servers.
 */
function decode(encoding: Encoding, bytes: Buffer): Buffer {
  if (encoding === "br") {
    return brotliDecompressSync(bytes, { finishFlush: constants.BROTLI_OPERATION_FLUSH });
  }
  const options = { finishFlush: constants.Z_SYNC_FLUSH };
  if (encoding === "gzip") return gunzipSync(bytes, options);
  try {
    return inflateSync(bytes, options);
  } catch {
    return inflateRawSync(bytes, options);
  }
}

/** What a metered response came to: the tokens to charge, whether the upstream reported them, and the HTTP status. */
export interface MeterResult {
  tokens: number;
  /** The upstream reported `usage` (rather than the meter estimating from the text). */
  reported: boolean;
  status: number;
}

/**
 * Counts the tokens of a response body as it is sent, whatever its content type and encoding:
 * gzip, br and deflate bodies are decoded for counting only (the bytes sent are never touched).
 * A body that claims an encoding but does not decode (a proxy that already decoded it) is
 * counted as it is.
 *
 * @example
 * const meter = new BodyMeter(promptTokens(body), "text/event-stream", "gzip");
 * meter.write(chunk); // as sent
 * meter.end();
 * meter.tokens();
 */
export class BodyMeter {
  readonly #text: TokenMeter;
  readonly #encoding: Encoding | undefined;
  #encoded: Buffer[] = [];
  #encodedBytes = 0;
  #decoded = false;

  constructor(prompt: number, contentType: string | undefined, contentEncoding: string | undefined) {
    this.#text = new TokenMeter(prompt, contentType);
    this.#encoding = encodingOf(contentEncoding);
  }

  write(chunk: string | Uint8Array): void {
    if (this.#encoding === undefined) {
      this.#text.write(chunk);
      return;
    }
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk);
    if (this.#encodedBytes + bytes.length > MAX_ENCODED_BYTES) return;
    this.#encoded.push(bytes);
    this.#encodedBytes += bytes.length;
  }

  /** The body is complete. */
  end(): void {
    this.#flushEncoded();
    this.#text.end();
  }

  get reported(): boolean {
    this.#flushEncoded();
    return this.#text.reported;
  }

  tokens(): number {
    this.#flushEncoded();
    return this.#text.tokens();
  }

  /** Input, output and cached tokens (reported, or estimated as `tokens()` is). */
  usage(): TokenUsage {
    this.#flushEncoded();
    return this.#text.usage();
  }

  /** Decodes the compressed body once (at the end, or when the client left mid-stream). */
  #flushEncoded(): void {
    if (this.#encoding === undefined || this.#decoded) return;
    this.#decoded = true;
    const bytes = Buffer.concat(this.#encoded);
    this.#encoded = [];
    let text: Buffer;
    try {
      text = decode(this.#encoding, bytes);
    } catch {
      text = bytes; // labelled as encoded but not: count what was sent
    }
    this.#text.write(text);
  }
}
