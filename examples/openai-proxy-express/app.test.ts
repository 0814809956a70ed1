import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type LimitSpec, manualClock } from "@tollgate/core";
import { apiKeySubjectId } from "@tollgate/http";
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createProxy } from "./src/app.js";
import { FAKE_TOTAL_TOKENS, type FakeUpstream, startFakeUpstream } from "./src/fake-upstream.js";

const START = Date.UTC(2026, 0, 1, 12, 0, 0);
const CALLER_KEY = "sk-caller-0f9e8d7c6b5a4321";

let upstream: FakeUpstream;
const servers: Server[] = [];
beforeAll(async () => {
  upstream = await startFakeUpstream();
});
afterEach(() => upstream.failWith(undefined));
afterAll(async () => {
  for (const server of servers) server.close();
  await upstream.close();
});

/** The proxy on a random port, with a manual clock, and the official SDK pointed at it. */
async function proxied(limits?: LimitSpec[], maxRetries = 0) {
  const clock = manualClock(START);
  const { app, limiter } = createProxy({
    upstream: upstream.url,
    upstreamKey: "sk-upstream-own",
    clock,
    ...(limits ? { limits } : {}),
  });
  const server = app.listen(0, "127.0.0.1");
  servers.push(server);
  await new Promise((resolve) => server.once("listening", resolve));
  const { port } = server.address() as AddressInfo;
  let requests = 0;
  const client = new OpenAI({
    baseURL: `http://127.0.0.1:${port}/v1`,
    apiKey: CALLER_KEY,
    maxRetries,
    fetch: (url, init) => {
      requests++;
      return fetch(url, init);
    },
  });
  const tokensUsed = async () =>
    (await limiter.peek({ subject: { key: apiKeySubjectId(CALLER_KEY) } })).limits.find((l) => l.name === "tokens")
      ?.used;
  return { client, limiter, tokensUsed, requests: () => requests };
}

const messages = [{ role: "user" as const, content: "The checkout service returns 502 since 10:04. What first?" }];

describe("OpenAI-compatible proxy with the official SDK", () => {
  it("JSON: reserves prompt + max_tokens, then charges the reported usage (gzip upstream, bytes untouched)", async () => {
    const { client, tokensUsed } = await proxied();
    const answer = await client.chat.completions.create({ model: "gpt-4o-mini", messages, max_tokens: 300 });
    expect(answer.choices[0]?.message.content).toBe("Check the last deploy first.");
    expect(answer.usage?.total_tokens).toBe(FAKE_TOTAL_TOKENS);
    expect(await tokensUsed()).toBe(FAKE_TOTAL_TOKENS);
    // The SDK asked for compression; the upstream answered gzip and the meter decoded it to count.
    const call = upstream.calls.at(-1);
    expect(call?.acceptEncoding).toMatch(/gzip/);
    expect(call?.authorization).toBe("Bearer sk-upstream-own");
  });

  it("streamed: charges the usage of the final chunk", async () => {
    const { client, tokensUsed } = await proxied();
    const stream = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages,
      max_tokens: 300,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: number | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      usage = chunk.usage?.total_tokens ?? usage;
    }
    expect(text).toBe("Check the last deploy first.");
    expect(usage).toBe(FAKE_TOTAL_TOKENS);
    expect(await tokensUsed()).toBe(FAKE_TOTAL_TOKENS);
  });

  it("an upstream error without usage is refunded, on every retry the SDK makes", async () => {
    const { client, tokensUsed, requests } = await proxied(undefined, 1);
    upstream.failWith(500);
    await expect(client.chat.completions.create({ model: "gpt-4o-mini", messages, max_tokens: 300 })).rejects.toThrow(
      OpenAI.InternalServerError,
    );
    expect(requests()).toBe(2);
    expect(await tokensUsed()).toBe(0);
  });

  it("a request that can never fit is refused once: x-should-retry: false stops the SDK's retries", async () => {
    const { client, requests } = await proxied(
      [{ name: "tokens", per: "key", algorithm: "sliding-log", limit: 1_000, window: "1h", unit: "tokens" }],
      3,
    );
    const calls = upstream.calls.length;
    const error = await client.chat.completions
      .create({ model: "gpt-4o-mini", messages, max_tokens: 5_000 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).code).toBe("cost_exceeds_limit");
    expect(requests()).toBe(1);
    expect(upstream.calls.length).toBe(calls);
  });

  it("the caller's key never reaches a counter id, a decision or the upstream", async () => {
    const { client, limiter } = await proxied();
    await client.chat.completions.create({ model: "gpt-4o-mini", messages, max_tokens: 50 });
    const peek = await limiter.peek({ subject: { key: apiKeySubjectId(CALLER_KEY) } });
    expect(JSON.stringify(peek)).not.toContain(CALLER_KEY);
    expect(peek.limits[0]?.used).toBe(1);
    expect(JSON.stringify(upstream.calls)).not.toContain(CALLER_KEY);
  });

  it("a caller without a key gets an OpenAI-shaped 400, not an unlimited pass", async () => {
    const { client } = await proxied();
    // The SDK refuses to send without a key, so a plain fetch plays the misconfigured client.
    const res = await fetch(`${client.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages }),
    });
    expect(res.status).toBe(400);
    expect(res.headers.get("x-should-retry")).toBe("false");
    const body = (await res.json()) as { error: { code: string; type: string } };
    expect(body.error).toMatchObject({ code: "subject_missing", type: "invalid_request_error" });
  });
});
