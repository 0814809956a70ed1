import { createLimiter, manualClock, memoryStore } from "@tollgate/core";
import { rateLimit, type TollgateEnv, usage } from "@tollgate/http/hono";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { captureLogs, expectProblem, parseRateLimit, setup } from "./helpers.js";

const env = (remoteAddress: string) => ({ incoming: { socket: { remoteAddress } } });

describe("hono middleware", () => {
  it("is a named middleware that answers 429 with truthful Retry-After", async () => {
    const { clock, limiter } = setup();
    const middleware = rateLimit(limiter);
    expect(middleware.name).toBe("tollgateRateLimit");
    const app = new Hono<TollgateEnv>();
    app.use("/api/*", middleware);
    app.get("/api/x", (c) => c.json({ ok: true, ip: c.get("tollgate").ip }));
    app.get("/usage", usage(limiter));
    const ok = await app.request("/api/x", {}, env("2001:db8:1:2:3:4:5:6"));
    expect(await ok.json()).toEqual({ ok: true, ip: "2001:db8:1:2::/64" });
    expect(parseRateLimit(ok.headers).minute).toEqual({ q: 2, w: 60, r: 1, t: 30 });
    // Another address in the same /64 shares the budget.
    expect((await app.request("/api/x", {}, env("2001:db8:1:2:ffff::1"))).status).toBe(200);
    const denied = await app.request("/api/x", {}, env("2001:db8:1:2::9"));
    expect(denied.status).toBe(429);
    expect(denied.headers.get("content-type")).toBe("application/problem+json");
    expectProblem(await denied.json(), 429);
    expect(denied.headers.get("retry-after")).toBe("30");
    const report = await (await app.request("/usage", {}, env("2001:db8:1:2::9"))).json();
    expect(report).toMatchObject({ used: 2, remaining: 0, limit: 2, reset: 30 });
    clock.advance(30_000);
    expect((await app.request("/api/x", {}, env("2001:db8:1:2::9"))).status).toBe(200);
  });

  it("settles with what was produced when the client cancels a stream", async () => {
    const clock = manualClock(Date.UTC(2026, 0, 1));
    const limiter = createLimiter({
      store: memoryStore({ clock }),
      clock,
      limits: [{ name: "tokens", per: "ip", algorithm: "fixed-window", limit: 100_000, window: "1m", unit: "tokens" }],
    });
    const app = new Hono<TollgateEnv>();
    app.post("/v1/chat", rateLimit(limiter, { tokens: true }), () => {
      const encoder = new TextEncoder();
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          controller.enqueue(encoder.encode(`data: {"choices":[{"delta":{"content":"${"x".repeat(40)}"}}]}\n\n`));
        },
      });
      return new Response(body, { headers: { "content-type": "text/event-stream" } });
    });
    const res = await app.request(
      "/v1/chat",
      { method: "POST", body: JSON.stringify({ max_tokens: 5000 }), headers: { "content-type": "application/json" } },
      env("203.0.113.9"),
    );
    const reservedPeek = await limiter.peek({ subject: { ip: "203.0.113.9" } });
    expect(reservedPeek.limits[0]?.used).toBeGreaterThanOrEqual(5000);
    const reader = res.body?.getReader();
    await reader?.read();
    await reader?.read();
    await reader?.cancel();
    await new Promise((resolve) => setImmediate(resolve));
    const used = (await limiter.peek({ subject: { ip: "203.0.113.9" } })).limits[0]?.used ?? 0;
    // Two or three 40-character chunks were produced (the stream reads ahead by one): 10 tokens each.
    expect(used).toBeGreaterThanOrEqual(20);
    expect(used).toBeLessThanOrEqual(40);
  });

  it("warns once when no client address is available", async () => {
    const { limiter } = setup();
    const { lines, logger } = captureLogs();
    const app = new Hono();
    app.use(rateLimit(limiter, { logger }));
    app.get("/", (c) => c.text("ok"));
    await app.request("/");
    await app.request("/");
    expect(lines.filter((line) => line.includes("NO_ADDRESS"))).toHaveLength(1);
  });
});
