// A local stand-in for an OpenAI-compatible upstream: chat completions as JSON or as a stream
// (with `stream_options.include_usage`), gzip-compressed when the client accepts it, as
// api.openai.com does. For the demo server and the tests; no network.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";

export interface FakeUpstream {
  url: string;
  /** Requests received, by path. */
  calls: {
    path: string;
    authorization: string | undefined;
    acceptEncoding: string | undefined;
    body: Record<string, unknown>;
  }[];
  /** Answer the next requests with this HTTP status and an error body without usage. */
  failWith(status: number | undefined): void;
  close(): Promise<void>;
}

const PROMPT_TOKENS = 21;
const WORDS = ["Check", " the", " last", " deploy", " first", "."];

function completion(model: string) {
  const content = WORDS.join("");
  return {
    id: "chatcmpl-fake",
    object: "chat.completion",
    created: 1_767_225_600,
    model,
    choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
    usage: {
      prompt_tokens: PROMPT_TOKENS,
      completion_tokens: WORDS.length,
      total_tokens: PROMPT_TOKENS + WORDS.length,
    },
  };
}

function chunks(model: string, includeUsage: boolean): string[] {
  const base = { id: "chatcmpl-fake", object: "chat.completion.chunk", created: 1_767_225_600, model };
  const events = WORDS.map((word, i) => ({
    ...base,
    choices: [
      { index: 0, delta: i === 0 ? { role: "assistant", content: word } : { content: word }, finish_reason: null },
    ],
  }));
  events.push({ ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] } as never);
  if (includeUsage) {
    const usage = {
      prompt_tokens: PROMPT_TOKENS,
      completion_tokens: WORDS.length,
      total_tokens: PROMPT_TOKENS + WORDS.length,
    };
    events.push({ ...base, choices: [], usage } as never);
  }
  return [...events.map((event) => `data: ${JSON.stringify(event)}\n\n`), "data: [DONE]\n\n"];
}

/** Total tokens the fake reports for every completion. */
export const FAKE_TOTAL_TOKENS = PROMPT_TOKENS + WORDS.length;

export async function startFakeUpstream(): Promise<FakeUpstream> {
  const calls: FakeUpstream["calls"] = [];
  let failure: number | undefined;
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (part: Buffer) => parts.push(part));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(parts).toString("utf8") || "{}") as Record<string, unknown>;
      calls.push({
        path: req.url ?? "",
        authorization: req.headers.authorization,
        acceptEncoding: req.headers["accept-encoding"],
        body,
      });
      const gzip = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
      const encoding: Record<string, string> = gzip ? { "content-encoding": "gzip" } : {};
      if (failure !== undefined) {
        const error = JSON.stringify({
          error: { message: "The server had an error.", type: "server_error", code: null },
        });
        res.writeHead(failure, { "content-type": "application/json", ...encoding });
        res.end(gzip ? gzipSync(error) : error);
        return;
      }
      const model = String(body.model ?? "gpt-4o-mini");
      if (body.stream === true) {
        const options = body.stream_options as { include_usage?: boolean } | undefined;
        const text = chunks(model, options?.include_usage === true).join("");
        res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", ...encoding });
        const bytes = gzip ? gzipSync(text) : Buffer.from(text);
        // In a few pieces, as a real stream arrives.
        const step = Math.ceil(bytes.length / 3);
        for (let at = 0; at < bytes.length; at += step) res.write(bytes.subarray(at, at + step));
        res.end();
        return;
      }
      const json = JSON.stringify(completion(model));
      res.writeHead(200, { "content-type": "application/json", ...encoding });
      res.end(gzip ? gzipSync(json) : json);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    calls,
    failWith(status) {
      failure = status;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
