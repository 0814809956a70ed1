// A local OpenAI-compatible upstream for tests and benchmarks: Chat Completions (JSON and SSE with
// usage in the final chunk), the Responses API (JSON and SSE ending in response.completed),
// embeddings and the model list, gzip-compressed when the client accepts it as api.openai.com does.
// No network beyond 127.0.0.1.
//
// Its tokenizer is deliberately simple so tests can compare exactly: every output token is the
// 4-character word " tok", and a prompt counts one token per 4 characters of its JSON (the rule
// Tollgate estimates with). It records what it reported, or for a stream the client cut, what it
// had produced by then.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createGzip, gzipSync } from "node:zlib";

export interface FakeOpenAiCall {
  path: string;
  authorization: string | undefined;
  body: Record<string, unknown>;
  /** What the upstream reported (or, for a stream cut short, produced): prompt and output tokens. */
  usage?: { prompt: number; output: number; total: number };
  /** The connection closed before the answer was complete. */
  aborted: boolean;
}

export interface FakeOpenAiOptions {
  /** Output tokens when a request names no max_tokens / max_output_tokens. Default 16. */
  defaultOutput?: number;
  /** Milliseconds between streamed tokens (0: as fast as possible). */
  tokenDelayMs?: number;
  /** Milliseconds before any answer (a slow model). */
  latencyMs?: number;
  /** Output tokens of a call that asked for at most `requested` (default: exactly `requested`). */
  outputFor?: (requested: number, callIndex: number) => number;
  /** Compress when the client accepts gzip (as api.openai.com does). Default true. */
  gzip?: boolean;
}

export interface FakeOpenAi {
  /** Base URL ending in /v1, as OpenAI SDKs take it. */
  url: string;
  calls: FakeOpenAiCall[];
  /** Answer the next calls with this HTTP status and an OpenAI error body without usage (undefined: stop). */
  failWith(status: number | undefined): void;
  /** Streams stop after this many output tokens and hang until the client goes away (undefined: never). */
  pauseAfter(tokens: number | undefined): void;
  /** Models whose answers ignore max_tokens and produce this many tokens (a runaway upstream). */
  runaway(model: string, tokens: number): void;
  close(): Promise<void>;
}

const TOKEN = " tok";
const promptOf = (body: Record<string, unknown>) => {
  const text = (value: unknown) => (value === undefined ? 0 : JSON.stringify(value).length);
  return Math.ceil((text(body.messages) + text(body.prompt) + text(body.input)) / 4);
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startFakeOpenAi(options: FakeOpenAiOptions = {}): Promise<FakeOpenAi> {
  const calls: FakeOpenAiCall[] = [];
  let failure: number | undefined;
  let pause: number | undefined;
  const runaways = new Map<string, number>();
  const gzipAllowed = options.gzip ?? true;

  async function handle(req: IncomingMessage, res: ServerResponse, raw: string) {
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(raw || "{}") as Record<string, unknown>;
    } catch {}
    const path = (req.url ?? "").replace(/^\/v1/, "");
    const call: FakeOpenAiCall = { path, authorization: req.headers.authorization, body, aborted: false };
    calls.push(call);
    const gzip = gzipAllowed && /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
    const encoding: Record<string, string> = gzip ? { "content-encoding": "gzip" } : {};
    const sendJson = (status: number, value: unknown) => {
      const json = JSON.stringify(value);
      res.writeHead(status, { "content-type": "application/json", "x-request-id": `req_${calls.length}`, ...encoding });
      res.end(gzip ? gzipSync(json) : json);
    };
    if (options.latencyMs) await sleep(options.latencyMs);
    if (req.method === "GET" && path === "/models") {
      const ids = ["gpt-4o-mini", "gpt-4o", "text-embedding-3-small"];
      return sendJson(200, {
        object: "list",
        data: ids.map((id) => ({ id, object: "model", created: 0, owned_by: "fake" })),
      });
    }
    if (failure !== undefined) {
      return sendJson(failure, {
        error: { message: "The server had an error.", type: "server_error", param: null, code: null },
      });
    }
    const model = String(body.model ?? "gpt-4o-mini");
    const prompt = promptOf(body);
    if (path === "/embeddings") {
      call.usage = { prompt, output: 0, total: prompt };
      return sendJson(200, {
        object: "list",
        data: [{ object: "embedding", index: 0, embedding: [0.1, 0.2, 0.3] }],
        model,
        usage: { prompt_tokens: prompt, total_tokens: prompt },
      });
    }
    const max = body.max_tokens ?? body.max_completion_tokens ?? body.max_output_tokens;
    const requested = typeof max === "number" ? max : (options.defaultOutput ?? 16);
    const output =
      runaways.get(model) ?? (options.outputFor ? options.outputFor(requested, calls.length - 1) : requested);
    const responses = path === "/responses";
    if (body.stream !== true) {
      call.usage = { prompt, output, total: prompt + output };
      const content = TOKEN.repeat(output);
      if (responses) {
        return sendJson(200, {
          id: "resp_fake",
          object: "response",
          status: "completed",
          model,
          output: [{ type: "message", role: "assistant", content: [{ type: "output_text", text: content }] }],
          usage: { input_tokens: prompt, output_tokens: output, total_tokens: prompt + output },
        });
      }
      return sendJson(200, {
        id: "chatcmpl-fake",
        object: "chat.completion",
        created: 1_767_225_600,
        model,
        choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
        usage: { prompt_tokens: prompt, completion_tokens: output, total_tokens: prompt + output },
      });
    }
    // A stream: one event per token, the usage last.
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "x-request-id": `req_${calls.length}`,
      ...encoding,
    });
    const zip = gzip ? createGzip({ flush: 2 /* Z_SYNC_FLUSH: each event leaves at once */ }) : undefined;
    zip?.pipe(res);
    const out = zip ?? res;
    let produced = 0;
    let closed = false;
    res.once("close", () => {
      closed = true;
      if (!res.writableFinished) {
        call.aborted = true;
        call.usage = { prompt, output: produced, total: prompt + produced };
      }
    });
    const base = { id: "chatcmpl-fake", object: "chat.completion.chunk", created: 1_767_225_600, model };
    const write = (event: unknown, name?: string) =>
      out.write(`${name ? `event: ${name}\n` : ""}data: ${JSON.stringify(event)}\n\n`);
    for (let i = 0; i < output && !closed; i++) {
      if (pause !== undefined && produced >= pause) {
        await new Promise((resolve) => res.once("close", resolve));
        return;
      }
      if (responses) write({ type: "response.output_text.delta", delta: TOKEN }, "response.output_text.delta");
      else write({ ...base, choices: [{ index: 0, delta: { content: TOKEN }, finish_reason: null }] });
      produced++;
      if (options.tokenDelayMs) await sleep(options.tokenDelayMs);
    }
    if (closed) return;
    call.usage = { prompt, output: produced, total: prompt + produced };
    if (responses) {
      write(
        {
          type: "response.completed",
          response: {
            id: "resp_fake",
            status: "completed",
            usage: { input_tokens: prompt, output_tokens: produced, total_tokens: prompt + produced },
          },
        },
        "response.completed",
      );
    } else {
      write({ ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] });
      const include = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
      if (include) {
        write({
          ...base,
          choices: [],
          usage: { prompt_tokens: prompt, completion_tokens: produced, total_tokens: prompt + produced },
        });
      }
      out.write("data: [DONE]\n\n");
    }
    out.end();
  }

  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (part: Buffer) => parts.push(part));
    req.on("end", () => {
      handle(req, res, Buffer.concat(parts).toString("utf8")).catch(() => res.destroy());
    });
  });
  server.keepAliveTimeout = 60_000;
  // A deep backlog: tests open a thousand connections at once.
  await new Promise<void>((resolve) => server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    calls,
    failWith(status) {
      failure = status;
    },
    pauseAfter(tokens) {
      pause = tokens;
    },
    runaway(model, tokens) {
      runaways.set(model, tokens);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
