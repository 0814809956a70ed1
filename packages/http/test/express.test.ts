import { createLimiter, manualClock, memoryStore, noopLimiter } from "@tollgate/core";
import { rateLimit, usage } from "@tollgate/http/express";
import express from "express";
import request from "supertest";
import { afterEach, describe, expect, it, vi } from "vitest";
import { brokenStore, captureLogs, expectProblem, parseRateLimit, perIpMinute, START, setup } from "./helpers.js";

function app(
  limiter: ReturnType<typeof setup>["limiter"],
  options: Parameters<typeof rateLimit>[1] = {},
  before?: express.RequestHandler,
) {
  const server = express();
  server.use(express.json());
  // Middleware that must see every request (a request logger) goes before the routes.
  if (before) server.use(before);
  server.get("/api/usage", usage(limiter, { subject: (req) => userOf(req) }));
  server.post("/api/ai", rateLimit(limiter, { subject: (req) => userOf(req), ...options }), (req, res) => {
    res.json({ ok: true, byok: req.tollgate?.providerKey !== undefined });
  });
  return server;
}

const userOf = (req: express.Request) => {
  const user = req.header("x-user");
  return user ? { user } : undefined;
};

afterEach(() => vi.restoreAllMocks());

describe("express rateLimit", () => {
  it("answers 429 after the limit with a truthful Retry-After and problem+json", async () => {
    const { clock, limiter } = setup();
    const server = app(limiter);
    const first = await request(server).post("/api/ai").send({});
    expect(first.status).toBe(200);
    expect(parseRateLimit(first.headers).minute).toEqual({ q: 2, w: 60, r: 1, t: 30 });
    await request(server).post("/api/ai").send({}).expect(200);
    const denied = await request(server).post("/api/ai").send({});
    expect(denied.status).toBe(429);
    expect(denied.headers["content-type"]).toMatch(/^application\/problem\+json/);
    const retryAfter = Number(denied.headers["retry-after"]);
    expect(retryAfter).toBe(30);
    expect(parseRateLimit(denied.headers).minute).toMatchObject({ r: 0, t: 30 });
    const body = JSON.parse(denied.text);
    expectProblem(body, 429);
    expect(body).toMatchObject({ reason: "limit_exceeded", retryAfter: 30, violatedPolicies: ["minute"] });
    clock.advance(retryAfter * 1000 - 1);
    await request(server).post("/api/ai").send({}).expect(429);
    clock.advance(1);
    await request(server).post("/api/ai").send({}).expect(200);
  });

  it("answers 400 naming the field for bad input, counting nothing", async () => {
    const { limiter } = setup();
    const server = app(limiter);
    const res = await request(server).post("/api/ai").set("x-user", "u".repeat(300)).send({});
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toMatchObject({ status: 400, field: "subject.user" });
    await request(server).post("/api/ai").send({}).expect(200);
    await request(server).post("/api/ai").send({}).expect(200);
  });

  it("answers 403 for a refused role and 401 for an invalid key, before counting", async () => {
    const { limiter } = setup();
    const server = express();
    server.post(
      "/x",
      rateLimit(limiter, {
        authorize: (req) =>
          req.header("x-role") === "readonly" ? "forbidden" : req.header("x-role") === "bad" ? "invalid_key" : true,
      }),
      (_req, res) => res.send("ok"),
    );
    const forbidden = await request(server).post("/x").set("x-role", "readonly");
    expect(forbidden.status).toBe(403);
    expectProblem(JSON.parse(forbidden.text), 403);
    await request(server).post("/x").set("x-role", "bad").expect(401);
    await request(server).post("/x").expect(200);
    await request(server).post("/x").expect(200);
  });

  it("the usage endpoint reports without charging, anonymous and signed in", async () => {
    const { limiter } = setup({
      limits: [],
      plans: {
        anonymous: { limits: [{ name: "day", per: "ip", algorithm: "quota", period: "day", limit: 1 }] },
        "signed-in": { limits: [{ name: "day", per: "user", algorithm: "quota", period: "day", limit: 3 }] },
      },
    });
    const server = app(limiter);
    for (let i = 0; i < 3; i++) {
      const res = await request(server).get("/api/usage").expect(200);
      expect(res.body).toMatchObject({ plan: "anonymous", used: 0, limit: 1, remaining: 1 });
    }
    await request(server).post("/api/ai").send({}).expect(200);
    expect((await request(server).get("/api/usage")).body).toMatchObject({ used: 1, limit: 1, remaining: 0 });
    const signedIn = await request(server).get("/api/usage").set("x-user", "u-1");
    expect(signedIn.body).toMatchObject({ plan: "signed-in", used: 0, limit: 3, remaining: 3 });
    expect(signedIn.body.reset).toBe(86_400 - 30);
  });

  it("BYOK skips exempt limits and the key reaches the handler but never a log or a response", async () => {
    const { limiter } = setup({
      limits: [{ name: "minute", per: "ip", algorithm: "fixed-window", limit: 1, window: "1m", byokExempt: true }],
    });
    const { lines, logger } = captureLogs();
    const spies = (["log", "info", "warn", "error", "debug"] as const).map((level) =>
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" "))),
    );
    const secret = "sk-test-SECRET-provider-key-123";
    let logged = 0;
    // A request logger registered before the route: it sees every request, after the handler has run.
    const server = app(limiter, { logger }, (req, res, next) => {
      res.on("finish", () => {
        logged++;
        lines.push(JSON.stringify({ headers: req.headers, tollgate: req.tollgate }));
      });
      next();
    });
    await request(server).post("/api/ai").send({}).expect(200);
    for (const header of ["X-OpenAI-Key", "X-Provider-Key"]) {
      const res = await request(server).post("/api/ai").set(header, secret).set("x-forwarded-for", "1.2.3.4").send({});
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ ok: true, byok: true });
      expect(res.text + JSON.stringify(res.headers)).not.toContain(secret);
    }
    const denied = await request(server).post("/api/ai").send({});
    expect(denied.status).toBe(429);
    // The logger saw all four requests, two of them carrying the key, and logged their tollgate context.
    expect(logged).toBe(4);
    expect(lines.filter((line) => line.includes('"tollgate":{"decision"'))).toHaveLength(3);
    expect(lines.join("\n")).not.toContain(secret);
    expect(spies.length).toBe(5);
  });

  it("ignores a spoofed X-Forwarded-For without trust, and warns once", async () => {
    const { limiter } = setup();
    const { lines, logger } = captureLogs();
    const server = app(limiter, { logger });
    for (let i = 0; i < 2; i++) {
      await request(server).post("/api/ai").set("x-forwarded-for", `198.51.100.${i}`).send({}).expect(200);
    }
    await request(server).post("/api/ai").set("x-forwarded-for", "198.51.100.99").send({}).expect(429);
    expect(lines.filter((line) => line.includes("FORWARDED_WITHOUT_TRUST"))).toHaveLength(1);
  });

  it("uses X-Forwarded-For from a trusted proxy", async () => {
    const { limiter } = setup();
    const server = app(limiter, { trustProxy: ["loopback"] });
    for (let i = 0; i < 3; i++) {
      await request(server).post("/api/ai").set("x-forwarded-for", `198.51.100.${i}`).send({}).expect(200);
    }
    await request(server).post("/api/ai").set("x-forwarded-for", "198.51.100.1").send({}).expect(200);
    await request(server).post("/api/ai").set("x-forwarded-for", "198.51.100.1").send({}).expect(429);
  });

  it("monitor-only limits never change the response", async () => {
    const { limiter } = setup({
      limits: [{ name: "watch", per: "ip", algorithm: "fixed-window", limit: 1, window: "1m", mode: "monitor" }],
    });
    const server = app(limiter);
    for (let i = 0; i < 3; i++) {
      const res = await request(server).post("/api/ai").send({});
      expect(res.status).toBe(200);
      expect(res.headers.ratelimit).toBeUndefined();
    }
  });

  it("adds legacy and OpenAI-style headers on request", async () => {
    const { clock, limiter } = setup();
    const res = await request(app(limiter, { clock, headers: { legacy: true, openai: true } }))
      .post("/api/ai")
      .send({});
    expect(res.headers["x-ratelimit-remaining"]).toBe("1");
    expect(res.headers["x-ratelimit-reset"]).toBe(String(START / 1000 + 30));
    expect(res.headers["x-ratelimit-remaining-requests"]).toBe("1");
  });

  it("uses a custom denial handler", async () => {
    const { limiter } = setup({
      limits: [{ name: "m", per: "ip", algorithm: "fixed-window", limit: 1, window: "1m" }],
    });
    const server = app(limiter, {
      onDenied: (_req, res, _next, result) => void res.status(429).json({ wait: result.decision?.retryAfter }),
    });
    await request(server).post("/api/ai").send({}).expect(200);
    const res = await request(server).post("/api/ai").send({});
    expect(res.body).toEqual({ wait: 30 });
    expect(res.headers["retry-after"]).toBe("30");
  });

  it("decides with checkSync on a synchronous store (no microtask) and with check on an asynchronous one", async () => {
    const clock = manualClock(START);
    const memory = createLimiter({ store: memoryStore({ clock }), clock, limits: [perIpMinute()] });
    const inner = memoryStore({ clock });
    const remote = createLimiter({
      store: { ...inner, name: "remote", synchronous: false, decide: async (request) => inner.decide(request) },
      clock,
      limits: [perIpMinute()],
    });
    const calls = (limiter: typeof memory) => ({
      sync: vi.spyOn(limiter, "checkSync"),
      async: vi.spyOn(limiter, "check"),
    });
    const onMemory = calls(memory);
    const onRemote = calls(remote);
    for (const limiter of [memory, remote]) {
      const res = await request(app(limiter)).post("/api/ai").send({}).expect(200);
      expect(res.headers.ratelimit).toBeDefined();
    }
    expect([onMemory.sync.mock.calls.length, onMemory.async.mock.calls.length]).toEqual([1, 0]);
    expect([onRemote.sync.mock.calls.length, onRemote.async.mock.calls.length]).toEqual([0, 1]);
    // On the memory store the middleware has called next() before it returns.
    const middleware = rateLimit(memory);
    const next = vi.fn();
    const res = { setHeader: vi.fn(), once: vi.fn() } as unknown as express.Response;
    const req = { headers: {}, header: () => undefined, socket: { remoteAddress: "203.0.113.9" } };
    const returned = middleware(req as unknown as express.Request, res, next);
    expect([returned, next.mock.calls.length]).toEqual([undefined, 1]);
  });

  it("follows failMode when the store is down, and passes through with no limiter", async () => {
    const clock = manualClock(START);
    const open = createLimiter({
      store: brokenStore(),
      clock,
      breaker: false,
      limits: [{ name: "m", per: "ip", algorithm: "fixed-window", limit: 1, window: "1m" }],
    });
    await request(app(open)).post("/api/ai").send({}).expect(200);
    const closed = createLimiter({
      store: brokenStore(),
      clock,
      breaker: false,
      limits: [{ name: "m", per: "ip", algorithm: "fixed-window", limit: 1, window: "1m", failMode: "closed" }],
    });
    const res = await request(app(closed)).post("/api/ai").send({});
    expect(res.status).toBe(503);
    expect(JSON.parse(res.text)).toMatchObject({ status: 503, reason: "store_unavailable" });
    await request(app(noopLimiter())).post("/api/ai").send({}).expect(200);
  });

  it("reserves an LLM token estimate and settles with the response's usage", async () => {
    const clock = manualClock(START);
    const limiter = createLimiter({
      store: memoryStore({ clock }),
      clock,
      limits: [{ name: "tokens", per: "ip", algorithm: "fixed-window", limit: 10_000, window: "1m", unit: "tokens" }],
    });
    const server = express();
    server.use(express.json());
    server.post("/v1/chat", rateLimit(limiter, { tokens: true }), (_req, res) => {
      res.json({ choices: [{ message: { content: "hi" } }], usage: { total_tokens: 42 } });
    });
    await request(server).post("/v1/chat").send({ max_tokens: 500, messages: [] }).expect(200);
    const peek = await limiter.peek({ subject: { ip: "127.0.0.1" } });
    expect(peek.limits[0]?.used).toBe(42);
  });
});
