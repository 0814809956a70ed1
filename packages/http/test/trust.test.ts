import { createHash } from "node:crypto";
import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import { createLimiter, type LimitSpec, manualClock, memoryStore } from "@tollgate/core";
import { meterNodeResponse, settleOnce } from "@tollgate/http";
import { rateLimit } from "@tollgate/http/express";
import express from "express";
import request from "supertest";
import { describe, expect, it } from "vitest";
import { captureLogs, expectProblem, START } from "./helpers.js";

/**
 * What a client reads is what happens: no silent pass for a missing subject, and a token meter
 * that charges what the upstream reported, once.
 */

const tokenLimit = (limit = 100_000): LimitSpec => ({
  name: "tokens",
  per: "user",
  algorithm: "quota",
  period: "day",
  limit,
  unit: "tokens",
});

function limiterWith(limits: LimitSpec[]) {
  const clock = manualClock(START);
  return createLimiter({ store: memoryStore({ clock }), clock, limits });
}

/** The documented `key` id of a raw API key: `sha256:` and the first 32 hex digits of its SHA-256. */
const apiKeySubjectId = (raw: string) => `sha256:${createHash("sha256").update(raw).digest("hex").slice(0, 32)}`;

const user = (req: express.Request) => ({ user: req.header("x-user") });
const usedBy = async (limiter: ReturnType<typeof limiterWith>, subject: Record<string, string>) =>
  (await limiter.peek({ subject })).limits[0]?.used;

/** An Express app with one metered LLM route whose handler is `handler`. */
function llmApp(
  limiter: ReturnType<typeof limiterWith>,
  handler: express.RequestHandler,
  options: Parameters<typeof rateLimit>[1] = {},
) {
  const server = express();
  server.use(express.json());
  server.post("/v1/chat/completions", rateLimit(limiter, { subject: user, tokens: true, ...options }), handler);
  return server;
}

const completion = (total: number) =>
  JSON.stringify({ choices: [{ message: { role: "assistant", content: "ok" } }], usage: { total_tokens: total } });

const streamed = (total: number) =>
  'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n' +
  'data: {"choices":[{"delta":{"content":"lo"}}]}\n\n' +
  `data: {"choices":[],"usage":{"prompt_tokens":20,"completion_tokens":${total - 20},"total_tokens":${total}}}\n\n` +
  "data: [DONE]\n\n";

/** POSTs without any decoding on the client side: the exact bytes the server sent. */
function rawPost(server: express.Express, path: string, headers: Record<string, string>, body: string) {
  return new Promise<{ status: number; headers: Record<string, unknown>; bytes: Buffer }>((resolve, reject) => {
    const listener = server.listen(0, "127.0.0.1", () => {
      const { port } = listener.address() as AddressInfo;
      const req = httpRequest(
        { host: "127.0.0.1", port, path, method: "POST", headers: { "content-type": "application/json", ...headers } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => {
            listener.close();
            resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes: Buffer.concat(chunks) });
          });
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  });
}

describe("no silent pass", () => {
  it("a per-user limit without a user answers 400 subject_missing naming subject.user; the automatic ip never stands in", async () => {
    const limiter = limiterWith([
      { name: "llm-hour", per: "user", algorithm: "sliding-log", limit: 2, window: "1h" },
      { name: "per-ip", per: "ip", algorithm: "fixed-window", limit: 100, window: "1h" },
    ]);
    const server = express();
    // The resolver bug of the finding: a missing user comes back as `{ user: undefined }`.
    server.post("/api/ai/triage", rateLimit(limiter, { subject: () => ({ user: undefined }) }), (_req, res) => {
      res.json({ ok: true });
    });
    for (let i = 0; i < 10; i++) {
      const res = await request(server).post("/api/ai/triage").send({});
      expect(res.status).toBe(400);
      expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
      expect(res.headers["x-should-retry"]).toBe("false");
      const body = JSON.parse(res.text);
      expectProblem(body, 400);
      expect(body).toMatchObject({
        reason: "subject_missing",
        field: "subject.user",
        missing: [{ limit: "llm-hour", field: "subject.user" }],
      });
    }
    // Nothing was counted, not even on the limit whose subject (the ip) was there.
    expect(await usedBy(limiter, { user: "u", ip: "127.0.0.1" })).toBe(0);
    expect((await limiter.peek({ subject: { user: "u", ip: "127.0.0.1" } })).limits[1]?.used).toBe(0);
  });

  it("a limit that says whenMissing: skip is warned about once, however many requests it skips", async () => {
    const limiter = limiterWith([
      { name: "per-org", per: "org", algorithm: "fixed-window", limit: 1, window: "1h", whenMissing: "skip" },
      { name: "per-ip", per: "ip", algorithm: "fixed-window", limit: 100, window: "1h" },
    ]);
    const { lines, logger } = captureLogs();
    const server = express();
    server.post("/x", rateLimit(limiter, { logger }), (_req, res) => void res.send("ok"));
    for (let i = 0; i < 5; i++) await request(server).post("/x").expect(200);
    expect(lines.filter((line) => line.includes("SUBJECT_SKIPPED:per-org"))).toHaveLength(1);
  });
});

describe("the token meter charges what the upstream reported", () => {
  it("a refund in the handler is final: the meter does not settle the same decision again", async () => {
    const limiter = limiterWith([tokenLimit(10_000)]);
    await limiter.check({ subject: { user: "u1" }, cost: 1_000 }); // the user is at 1,000
    const server = llmApp(limiter, async (req, res) => {
      // The upstream failed: give the reservation back, then answer.
      expect((await req.tollgate?.refund())?.applied).toBe(true);
      res.status(502).json({ error: { message: "upstream unavailable" } });
    });
    await request(server).post("/v1/chat/completions").set("x-user", "u1").send({ max_tokens: 500 }).expect(502);
    expect(await usedBy(limiter, { user: "u1" })).toBe(1_000);
    // limiter.refund(decision) directly is the same lifecycle.
    const direct = llmApp(limiter, async (req, res) => {
      await limiter.refund(req.tollgate?.decision as never);
      res.json(JSON.parse(completion(30)));
    });
    await request(direct).post("/v1/chat/completions").set("x-user", "u1").send({ max_tokens: 500 }).expect(200);
    expect(await usedBy(limiter, { user: "u1" })).toBe(1_000);
  });

  it("an SSE response whose content type is set by writeHead is metered by its reported usage", async () => {
    const limiter = limiterWith([tokenLimit()]);
    // A bare Node response: `writeHead(status, headers)` with nothing set before keeps no headers
    // that `getHeader` could read (the fast path Fastify's raw replies and plain handlers take).
    const decision = await limiter.check({ subject: { user: "u2" }, cost: 2_000 });
    const server0 = createServer((_req, res) => {
      meterNodeResponse(res, 100, settleOnce(limiter, decision));
      res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
      for (const event of streamed(30).split(/(?<=\n\n)/)) res.write(event);
      res.end();
    });
    await new Promise<void>((resolve) => server0.listen(0, "127.0.0.1", resolve));
    const { port } = server0.address() as AddressInfo;
    await (await fetch(`http://127.0.0.1:${port}/`)).text();
    server0.close();
    expect(await usedBy(limiter, { user: "u2" })).toBe(30);
    // And through Express, where writeHead's headers mix with those already set.
    const server = llmApp(limiter, (_req, res) => {
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      for (const event of streamed(31).split(/(?<=\n\n)/)) res.write(event);
      res.end();
    });
    await request(server).post("/v1/chat/completions").set("x-user", "u2b").send({ stream: true }).expect(200);
    expect(await usedBy(limiter, { user: "u2b" })).toBe(31);
  });

  for (const [encoding, encode] of [
    ["gzip", gzipSync],
    ["br", brotliCompressSync],
    ["deflate", deflateSync],
  ] as const) {
    it(`a ${encoding} body is decoded for counting and reaches the client byte for byte`, async () => {
      const limiter = limiterWith([tokenLimit()]);
      const json = encode(Buffer.from(completion(31)));
      const sse = encode(Buffer.from(streamed(44)));
      const server = express();
      server.use(express.json());
      const meter = rateLimit(limiter, { subject: user, tokens: true });
      server.post("/json", meter, (_req, res) => {
        res.setHeader("Content-Type", "application/json");
        res.setHeader("Content-Encoding", encoding);
        res.end(json);
      });
      server.post("/sse", meter, (_req, res) => {
        res.writeHead(200, { "content-type": "text/event-stream", "content-encoding": encoding });
        res.write(sse.subarray(0, 7));
        res.end(sse.subarray(7));
      });
      const body = JSON.stringify({ max_tokens: 2_000 });
      const one = await rawPost(server, "/json", { "x-user": "u3" }, body);
      expect(one.bytes.equals(json)).toBe(true);
      expect(await usedBy(limiter, { user: "u3" })).toBe(31);
      const two = await rawPost(server, "/sse", { "x-user": "u4" }, body);
      expect(two.bytes.equals(sse)).toBe(true);
      expect(await usedBy(limiter, { user: "u4" })).toBe(44);
    });
  }

  it("an upstream error without usage is refunded by default, charged when told, and charged its usage when it has one", async () => {
    const limiter = limiterWith([tokenLimit()]);
    const failing = (status: number, payload: string) =>
      llmApp(limiter, (_req, res) => {
        res.status(status).type("application/json").send(payload);
      });
    const error = JSON.stringify({ error: { message: "The server had an error while processing your request." } });
    await request(failing(500, error)).post("/v1/chat/completions").set("x-user", "e1").send({}).expect(500);
    await request(failing(429, error)).post("/v1/chat/completions").set("x-user", "e1").send({}).expect(429);
    expect(await usedBy(limiter, { user: "e1" })).toBe(0);
    // A 4xx that did report usage is charged what it reported.
    await request(failing(400, completion(12)))
      .post("/v1/chat/completions")
      .set("x-user", "e2")
      .send({})
      .expect(400);
    expect(await usedBy(limiter, { user: "e2" })).toBe(12);
    // refundErrors: false keeps the old behaviour: the error body is estimated as output.
    const charged = llmApp(limiter, (_req, res) => void res.status(500).type("application/json").send(error), {
      tokens: { refundErrors: false },
    });
    await request(charged).post("/v1/chat/completions").set("x-user", "e3").send({}).expect(500);
    expect(await usedBy(limiter, { user: "e3" })).toBeGreaterThan(0);
  });

  it("a cost that can never fit answers x-should-retry: false (and so do refusals and bad input)", async () => {
    const limiter = limiterWith([tokenLimit(1_000)]);
    const server = llmApp(limiter, (_req, res) => void res.json(JSON.parse(completion(1))));
    const res = await request(server).post("/v1/chat/completions").set("x-user", "big").send({ max_tokens: 5_000 });
    expect(res.status).toBe(429);
    expect(JSON.parse(res.text)).toMatchObject({ reason: "cost_exceeds_limit" });
    expect(res.headers["x-should-retry"]).toBe("false");
    expect(res.headers["retry-after"]).toBeUndefined();
    const bad = await request(server).post("/v1/chat/completions").set("x-user", "u".repeat(300)).send({});
    expect(bad.status).toBe(400);
    expect(bad.headers["x-should-retry"]).toBe("false");
    // An ordinary rate-limit denial leaves retrying to Retry-After.
    const small = limiterWith([{ name: "m", per: "user", algorithm: "fixed-window", limit: 1, window: "1m" }]);
    const ordinary = express().post("/x", rateLimit(small, { subject: user }), (_req, r) => void r.send("ok"));
    await request(ordinary).post("/x").set("x-user", "o").expect(200);
    const denied = await request(ordinary).post("/x").set("x-user", "o");
    expect(denied.status).toBe(429);
    expect(denied.headers["x-should-retry"]).toBeUndefined();
  });

  it("an API key used as the subject is hashed before it becomes a counter id or appears in a decision", async () => {
    const secret = "sk-live-THE-CUSTOMERS-SECRET-0123456789";
    const limiter = limiterWith([{ name: "m", per: "key", algorithm: "fixed-window", limit: 5, window: "1m" }]);
    const seen: string[] = [];
    const { lines, logger } = captureLogs();
    const server = express();
    for (const [path, field] of [
      ["/apiKey", "apiKey"],
      ["/key", "key"],
    ] as const) {
      server.post(
        path,
        rateLimit(limiter, { subject: (req) => ({ [field]: req.header("x-api-key") }), logger }),
        (req, res) => {
          seen.push(JSON.stringify(req.tollgate));
          res.json(req.tollgate?.decision);
        },
      );
    }
    for (const path of ["/apiKey", "/key"]) {
      const res = await request(server).post(path).set("x-api-key", secret);
      expect(res.status).toBe(200);
      expect(res.text + JSON.stringify(res.headers)).not.toContain(secret);
      expect(res.body.limits[0].subject).toBe(`key:${apiKeySubjectId(secret)}`);
    }
    expect(seen.join("\n")).not.toContain(secret);
    // Both requests charged the same (hashed) key, and a raw key passed as `key` was warned about.
    expect(await usedBy(limiter, { key: apiKeySubjectId(secret) })).toBe(2);
    expect(lines.filter((line) => line.includes("RAW_SECRET_AS_KEY"))).toHaveLength(1);
  });
});
