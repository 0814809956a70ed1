import { createLimiter, manualClock, memoryStore } from "@tollgate/core";
import { tollgate, usageHandler } from "@tollgate/http/fastify";
import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { captureLogs, expectProblem, parseRateLimit, setup } from "./helpers.js";

async function build(limiter: ReturnType<typeof setup>["limiter"], logger = captureLogs().logger) {
  const app = Fastify();
  await app.register(tollgate, {
    limiter,
    logger,
    subject: (req) => ({ org: String(req.headers["x-org"] ?? "none") }),
  });
  app.post("/api/llm", { config: { tollgate: { category: "llm_call" } } }, async (request) => ({
    ok: true,
    byok: request.tollgate?.providerKey !== undefined,
  }));
  app.get("/open", async () => "open");
  app.get("/api/usage", usageHandler(limiter, { subject: (req) => ({ org: String(req.headers["x-org"] ?? "none") }) }));
  return app;
}

describe("fastify plugin", () => {
  it("limits routes with config.tollgate: 429, Retry-After, RateLimit fields, problem+json", async () => {
    const { clock, limiter } = setup({
      limits: [{ name: "minute", per: "org", algorithm: "fixed-window", limit: 2, window: "1m" }],
    });
    const app = await build(limiter);
    const first = await app.inject({ method: "POST", url: "/api/llm", headers: { "x-org": "acme" } });
    expect(first.statusCode).toBe(200);
    expect(parseRateLimit(first.headers as Record<string, string>).minute).toEqual({ q: 2, w: 60, r: 1, t: 30 });
    await app.inject({ method: "POST", url: "/api/llm", headers: { "x-org": "acme" } });
    const denied = await app.inject({ method: "POST", url: "/api/llm", headers: { "x-org": "acme" } });
    expect(denied.statusCode).toBe(429);
    expect(denied.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(denied.headers["retry-after"]).toBe("30");
    expectProblem(denied.json(), 429);
    expect((await app.inject({ method: "POST", url: "/api/llm", headers: { "x-org": "other" } })).statusCode).toBe(200);
    // Routes without config are not limited.
    for (let i = 0; i < 5; i++) expect((await app.inject({ url: "/open" })).statusCode).toBe(200);
    clock.advance(30_000);
    expect((await app.inject({ method: "POST", url: "/api/llm", headers: { "x-org": "acme" } })).statusCode).toBe(200);
    expect(app.tollgate.limiter).toBe(limiter);
  });

  it("usage does not charge; BYOK reaches the handler only", async () => {
    const { limiter } = setup({
      limits: [{ name: "minute", per: "org", algorithm: "fixed-window", limit: 1, window: "1m", byokExempt: true }],
    });
    const { lines, logger } = captureLogs();
    const app = await build(limiter, logger);
    for (let i = 0; i < 3; i++) {
      const res = await app.inject({ url: "/api/usage", headers: { "x-org": "acme" } });
      expect(res.json()).toMatchObject({ used: 0, limit: 1, remaining: 1 });
    }
    const secret = "sk-fastify-secret";
    const byok = await app.inject({
      method: "POST",
      url: "/api/llm",
      headers: { "x-org": "acme", "x-openai-key": secret },
    });
    expect(byok.json()).toEqual({ ok: true, byok: true });
    expect(byok.body).not.toContain(secret);
    await app.inject({ method: "POST", url: "/api/llm", headers: { "x-org": "acme" } });
    expect((await app.inject({ method: "POST", url: "/api/llm", headers: { "x-org": "acme" } })).statusCode).toBe(429);
    expect(lines.join("\n")).not.toContain(secret);
  });

  it("settles token costs from a streamed (SSE) reply", async () => {
    const clock = manualClock(Date.UTC(2026, 0, 1));
    const limiter = createLimiter({
      store: memoryStore({ clock }),
      clock,
      limits: [{ name: "tokens", per: "org", algorithm: "fixed-window", limit: 100_000, window: "1m", unit: "tokens" }],
    });
    const app = Fastify();
    await app.register(tollgate, { limiter, subject: () => ({ org: "acme" }) });
    app.post("/v1/chat", { config: { tollgate: { tokens: true } } }, async (_request, reply) => {
      reply.type("text/event-stream");
      return [
        'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n',
        'data: {"choices":[{"delta":{"content":"lo"}}],"usage":{"total_tokens":77}}\n\n',
        "data: [DONE]\n\n",
      ].join("");
    });
    const res = await app.inject({ method: "POST", url: "/v1/chat", payload: { max_tokens: 1000, messages: [] } });
    expect(res.statusCode).toBe(200);
    expect((await limiter.peek({ subject: { org: "acme" } })).limits[0]?.used).toBe(77);
  });
});
