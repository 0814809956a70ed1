import { rateLimitMiddleware, usageRoute, withRateLimit } from "@tollgate/http/next";
import { describe, expect, it } from "vitest";
import { captureLogs, expectProblem, parseRateLimit, setup } from "./helpers.js";

const from = (ip: string, headers: Record<string, string> = {}) =>
  new Request("https://app.example/api/generate", { method: "POST", headers: { "x-real-ip": ip, ...headers } });
const options = { remoteAddress: (request: Request) => request.headers.get("x-real-ip") ?? undefined };

describe("next route handlers and middleware (Web Request/Response only)", () => {
  it("wraps a route handler: headers on success, 429 problem+json after the limit", async () => {
    const { limiter } = setup();
    const POST = withRateLimit(limiter, options, async (_request, { tollgate }) =>
      Response.json({ ip: tollgate.ip, byok: tollgate.providerKey !== undefined }),
    );
    const ok = await POST(from("203.0.113.1"));
    expect(await ok.json()).toEqual({ ip: "203.0.113.1", byok: false });
    expect(parseRateLimit(ok.headers).minute).toMatchObject({ r: 1 });
    await POST(from("203.0.113.1"));
    const denied = await POST(from("203.0.113.1"));
    expect(denied.status).toBe(429);
    expect(denied.headers.get("retry-after")).toBe("30");
    expectProblem(await denied.json(), 429);
  });

  it("middleware returns a denial or undefined; usage route never charges", async () => {
    const { limiter } = setup();
    const middleware = rateLimitMiddleware(limiter, options);
    const GET = usageRoute(limiter, options);
    expect(await (await GET(from("203.0.113.2"))).json()).toMatchObject({ used: 0, remaining: 2 });
    expect(await middleware(from("203.0.113.2"))).toBeUndefined();
    expect(await middleware(from("203.0.113.2"))).toBeUndefined();
    expect((await middleware(from("203.0.113.2")))?.status).toBe(429);
    expect(await (await GET(from("203.0.113.2"))).json()).toMatchObject({ used: 2, remaining: 0 });
  });

  it("hands the BYOK key to the handler without logging or echoing it", async () => {
    const { limiter } = setup({
      limits: [{ name: "minute", per: "ip", algorithm: "fixed-window", limit: 1, window: "1m", byokExempt: true }],
    });
    const { lines, logger } = captureLogs();
    const secret = "sk-next-secret";
    let seen: string | undefined;
    const POST = withRateLimit(limiter, { ...options, logger }, async (_r, { tollgate }) => {
      seen = tollgate.providerKey;
      lines.push(JSON.stringify(tollgate));
      return Response.json({ ok: true });
    });
    await POST(from("203.0.113.3"));
    for (let i = 0; i < 3; i++) {
      const res = await POST(from("203.0.113.3", { "x-provider-key": secret }));
      expect(res.status).toBe(200);
      expect(await res.text()).not.toContain(secret);
    }
    expect(seen).toBe(secret);
    expect(lines.join("\n")).not.toContain(secret);
  });

  it("trusts X-Forwarded-For only from the configured proxy hops", async () => {
    const { limiter } = setup();
    const POST = withRateLimit(limiter, { trustProxy: 1 }, async (_r, { tollgate }) =>
      Response.json({ ip: tollgate.ip }),
    );
    const res = await POST(from("ignored", { "x-forwarded-for": "198.51.100.7" }));
    expect(await res.json()).toEqual({ ip: "198.51.100.7" });
  });
});
