import { describe, expect, it } from "vitest";
import { readUsage } from "./index.js";

describe("readUsage", () => {
  it("happy: a usage endpoint's body { used, limit, reset }", async () => {
    const res = new Response(JSON.stringify({ used: 2, limit: 3, remaining: 1, reset: 5000, limits: [] }), {
      headers: { "content-type": "application/json" },
    });
    expect(await readUsage(res)).toEqual({ used: 2, limit: 3, remaining: 1, reset: 5000 });
  });

  it("happy: the tightest of a body's limits when there is no top level", async () => {
    const body = {
      limits: [
        { name: "minute", used: 1, limit: 10, remaining: 9, reset: 30 },
        { name: "month", used: 999, limit: 1000, remaining: 1, reset: 86_400 },
      ],
    };
    expect(await readUsage(new Response(JSON.stringify(body)))).toMatchObject({ name: "month", used: 999 });
  });

  it("happy: the IETF RateLimit fields of any limited answer", async () => {
    const res = new Response("ok", {
      headers: {
        "RateLimit-Policy": '"minute";q=10;w=60, "month";q=1000;w=2592000',
        RateLimit: '"minute";r=7;t=42, "month";r=900;t=100000',
      },
    });
    expect(await readUsage(res)).toEqual({ name: "minute", used: 3, limit: 10, remaining: 7, reset: 42 });
  });

  it("edge: legacy X-RateLimit headers on an axios response; nothing at all gives undefined", async () => {
    const now = Math.floor(Date.now() / 1000);
    const axios = {
      response: {
        status: 200,
        headers: { "x-ratelimit-limit": "5", "x-ratelimit-remaining": "1", "x-ratelimit-reset": String(now + 60) },
      },
    };
    const usage = await readUsage(axios);
    expect(usage).toMatchObject({ used: 4, limit: 5, remaining: 1 });
    expect(usage?.reset).toBeGreaterThanOrEqual(59);
    expect(await readUsage(new Response("plain text"))).toBeUndefined();
  });
});
