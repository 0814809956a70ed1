import { manualClock } from "@tollgate/core";
import { type FakeOpenAi, startFakeOpenAi } from "@tollgate/testkit";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createKey, type Gateway, PRICES, startGateway, usedBy } from "./gateway-helpers.js";

const messages = [{ role: "user" as const, content: "Summarise the last deploy in one line." }];
/** The prompt as the gateway and the fake count it: one token per 4 characters of its JSON. */
const PROMPT = Math.ceil(JSON.stringify(messages).length / 4);

describe("LLM gateway (memory store, official openai SDK)", () => {
  let upstream: FakeOpenAi;
  let gateway: Gateway;
  const clock = manualClock(Date.UTC(2026, 2, 10, 12, 0, 0));

  beforeAll(async () => {
    upstream = await startFakeOpenAi();
    gateway = await startGateway(upstream, { clock });
  });
  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  const sdk = (secret: string, options: Partial<ConstructorParameters<typeof OpenAI>[0]> = {}) =>
    new OpenAI({ apiKey: secret, baseURL: gateway.baseURL, maxRetries: 0, ...options });

  it("JSON chat completion: tokens charged equal the upstream's usage, the upstream gets the server's key", async () => {
    const key = await createKey(gateway, "pro");
    const answer = await sdk(key.secret).chat.completions.create({ model: "gpt-4o-mini", messages, max_tokens: 7 });
    expect(answer.choices[0]?.message.content).toBe(" tok".repeat(7));
    expect(answer.usage).toEqual(expect.objectContaining({ prompt_tokens: PROMPT, completion_tokens: 7 }));
    const call = upstream.calls.at(-1);
    expect(call?.authorization).toBe("Bearer sk-upstream-secret-0123456789");
    await vi.waitFor(async () =>
      expect(await usedBy(gateway, key.id, "pro")).toEqual({ "calls-minute": 1, "tokens-month": call?.usage?.total }),
    );
  });

  it("streamed chat completion: settled from the final chunk's usage; the usage chunk the caller did not ask for is dropped", async () => {
    const key = await createKey(gateway, "pro");
    const stream = await sdk(key.secret).chat.completions.create({
      model: "gpt-4o-mini",
      messages,
      max_tokens: 12,
      stream: true,
    });
    let text = "";
    let usageChunks = 0;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      if (chunk.usage) usageChunks++;
    }
    expect(text).toBe(" tok".repeat(12));
    expect(usageChunks).toBe(0);
    expect(upstream.calls.at(-1)?.body.stream_options).toEqual({ include_usage: true });
    await vi.waitFor(async () =>
      expect((await usedBy(gateway, key.id, "pro"))["tokens-month"]).toBe(upstream.calls.at(-1)?.usage?.total),
    );
  });

  it("a stream the client aborts is charged what the upstream produced until then", async () => {
    const key = await createKey(gateway, "pro");
    upstream.pauseAfter(5);
    try {
      const stream = await sdk(key.secret).chat.completions.create({
        model: "gpt-4o-mini",
        messages,
        max_tokens: 50,
        stream: true,
      });
      let received = 0;
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta?.content) received++;
        if (received === 5) {
          stream.controller.abort();
          break;
        }
      }
      const call = upstream.calls.at(-1);
      await vi.waitFor(() => expect(call?.aborted).toBe(true));
      expect(call?.usage).toEqual({ prompt: PROMPT, output: 5, total: PROMPT + 5 });
      await vi.waitFor(async () => expect((await usedBy(gateway, key.id, "pro"))["tokens-month"]).toBe(PROMPT + 5));
    } finally {
      upstream.pauseAfter(undefined);
    }
  });

  it("an upstream error passes through unchanged and is not charged (request and tokens refunded)", async () => {
    const key = await createKey(gateway, "pro");
    upstream.failWith(500);
    try {
      const error = await sdk(key.secret)
        .chat.completions.create({ model: "gpt-4o-mini", messages, max_tokens: 100 })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.InternalServerError);
      expect((error as InstanceType<typeof OpenAI.APIError>).error).toEqual({
        message: "The server had an error.",
        type: "server_error",
        param: null,
        code: null,
      });
    } finally {
      upstream.failWith(undefined);
    }
    await vi.waitFor(async () =>
      expect(await usedBy(gateway, key.id, "pro")).toEqual({ "calls-minute": 0, "tokens-month": 0 }),
    );
  });

  it("embeddings and the Responses API (JSON and streamed) settle from their usage", async () => {
    const key = await createKey(gateway, "pro");
    const client = sdk(key.secret);
    const embedding = await client.embeddings.create({ model: "text-embedding-3-small", input: "hello world" });
    expect(embedding.data).toHaveLength(1);
    let expected = upstream.calls.at(-1)?.usage?.total ?? Number.NaN;
    await vi.waitFor(async () => expect((await usedBy(gateway, key.id, "pro"))["tokens-month"]).toBe(expected));
    const response = await client.responses.create({ model: "gpt-4o-mini", input: "hi", max_output_tokens: 9 });
    expect(response.output_text).toBe(" tok".repeat(9));
    expected += upstream.calls.at(-1)?.usage?.total ?? Number.NaN;
    await vi.waitFor(async () => expect((await usedBy(gateway, key.id, "pro"))["tokens-month"]).toBe(expected));
    const stream = await client.responses.create({
      model: "gpt-4o-mini",
      input: "hi",
      max_output_tokens: 4,
      stream: true,
    });
    let text = "";
    for await (const event of stream) if (event.type === "response.output_text.delta") text += event.delta;
    expect(text).toBe(" tok".repeat(4));
    expected += upstream.calls.at(-1)?.usage?.total ?? Number.NaN;
    await vi.waitFor(async () => expect((await usedBy(gateway, key.id, "pro"))["tokens-month"]).toBe(expected));
  });

  it("a stream that passes the budget is cut with an OpenAI error event; the settle equals what was sent", async () => {
    const key = await createKey(gateway, "tiny");
    upstream.runaway("runaway", 1000); // ignores max_tokens
    const stream = await sdk(key.secret).chat.completions.create({
      model: "runaway",
      messages,
      max_tokens: 20,
      stream: true,
    });
    let received = 0;
    const error = await (async () => {
      for await (const chunk of stream) if (chunk.choices[0]?.delta?.content) received++;
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).error).toEqual(
      expect.objectContaining({ type: "insufficient_quota", code: "budget_exhausted" }),
    );
    // 300 tokens a month: the prompt plus every token sent fit, one more would not.
    expect(PROMPT + received).toBe(300);
    await vi.waitFor(async () =>
      expect(await usedBy(gateway, key.id, "tiny")).toEqual({ "tokens-month": PROMPT + received }),
    );
  });

  it("denials are OpenAI-shaped with Retry-After, x-ratelimit-* and RateLimit fields; a monthly quota says x-should-retry: false", async () => {
    const key = await createKey(gateway, "monthly");
    await sdk(key.secret).chat.completions.create({ model: "gpt-4o-mini", messages, max_tokens: 1 });
    const attempts: number[] = [];
    const error = await sdk(key.secret, {
      maxRetries: 2,
      fetch: async (url: string | URL | Request, init?: RequestInit) => {
        const response = await fetch(url, init);
        attempts.push(response.status);
        return response;
      },
    })
      .chat.completions.create({ model: "gpt-4o-mini", messages, max_tokens: 1 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    const apiError = error as InstanceType<typeof OpenAI.RateLimitError>;
    expect(apiError.error).toEqual(expect.objectContaining({ type: "insufficient_quota", code: "insufficient_quota" }));
    expect(attempts).toEqual([429]); // not retried
    expect(apiError.headers.get("x-should-retry")).toBe("false");
    expect(Number(apiError.headers.get("retry-after"))).toBeGreaterThan(86_400);
    expect(apiError.headers.get("x-ratelimit-limit-requests")).toBe("1");
    expect(apiError.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    expect(apiError.headers.get("ratelimit-policy")).toContain('"calls-month";q=1');
    expect(apiError.headers.get("ratelimit")).toContain('"calls-month";r=0');
  });

  it("the SDK with maxRetries 2 waits the advertised Retry-After and succeeds", async () => {
    const key = await createKey(gateway, "persecond");
    await sdk(key.secret).chat.completions.create({ model: "gpt-4o-mini", messages, max_tokens: 1 });
    const attempts: { status: number; at: number; retryAfter: string | null }[] = [];
    const answer = await sdk(key.secret, {
      maxRetries: 2,
      fetch: async (url: string | URL | Request, init?: RequestInit) => {
        // The gateway's clock is manual: the wait the SDK really makes moves it.
        const last = attempts.at(-1);
        if (last?.retryAfter) clock.advance(Number(last.retryAfter) * 1000);
        const response = await fetch(url, init);
        attempts.push({
          status: response.status,
          at: performance.now(),
          retryAfter: response.headers.get("retry-after"),
        });
        return response;
      },
    }).chat.completions.create({ model: "gpt-4o-mini", messages, max_tokens: 1 });
    expect(answer.choices[0]?.message.content).toBe(" tok");
    expect(attempts.map((a) => a.status)).toEqual([429, 200]);
    expect(attempts[0]?.retryAfter).toBe("1");
    const [first, second] = attempts as [(typeof attempts)[0], (typeof attempts)[0]];
    expect(second.at - first.at).toBeGreaterThanOrEqual(950);
  });

  it("refuses without a Tollgate key, with an unknown key, and a model the plan lacks; nothing is counted", async () => {
    const none = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages }),
    });
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({
      error: expect.objectContaining({ type: "invalid_request_error", code: "invalid_api_key" }),
    });
    const unknown = await sdk("tg_live_0000000000000000000000000000dead")
      .chat.completions.create({ model: "gpt-4o-mini", messages })
      .catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(OpenAI.AuthenticationError);
    const key = await createKey(gateway, "mini");
    const other = await sdk(key.secret)
      .chat.completions.create({ model: "gpt-4o", messages })
      .catch((e: unknown) => e);
    expect(other).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(await usedBy(gateway, key.id, "mini")).toEqual({ "calls-minute": 0 });
    const models = await sdk(key.secret).models.list();
    expect(models.data.map((m) => m.id)).toEqual(["gpt-4o-mini"]);
  });

  it("a malformed body or a missing model answers 400 naming the field, nothing counted", async () => {
    const key = await createKey(gateway, "pro");
    const missing = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key.secret}` },
      body: JSON.stringify({ messages }),
    });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: { param: string } }).error.param).toBe("model");
    const broken = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key.secret}` },
      body: "{not json",
    });
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");
    // The reservation is sized from max_tokens: a value that is not a token count is refused, not defaulted.
    const badMax = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key.secret}` },
      body: JSON.stringify({ model: "gpt-4o-mini", messages, max_tokens: "many" }),
    });
    expect(badMax.status).toBe(400);
    expect(((await badMax.json()) as { error: { param: string } }).error.param).toBe("max_tokens");
    expect(await usedBy(gateway, key.id, "pro")).toEqual({ "calls-minute": 0, "tokens-month": 0 });
  });

  it("a prompt holding a NUL character is forwarded (prompts are never stored), not refused", async () => {
    const key = await createKey(gateway, "pro");
    const answer = await sdk(key.secret).chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "a\u0000b" }],
      max_tokens: 3,
    });
    expect(answer.choices[0]?.message.content).toBe(" tok".repeat(3));
  });

  it("BYOK: X-Provider-Key goes upstream for that call only, token and money limits are skipped, the key is never logged", async () => {
    const key = await createKey(gateway, "tiny");
    const byokKey = "sk-caller-own-key-abcdef0123456789";
    const answer = await sdk(key.secret, { defaultHeaders: { "X-Provider-Key": byokKey } }).chat.completions.create({
      model: "gpt-4o-mini",
      messages,
      max_tokens: 1000, // far above the 300-token plan: skipped for BYOK
    });
    expect(answer.usage?.completion_tokens).toBe(1000);
    expect(upstream.calls.at(-1)?.authorization).toBe(`Bearer ${byokKey}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await usedBy(gateway, key.id, "tiny")).toEqual({ "tokens-month": 0 });
    const metrics = await gateway.call("GET", "/metrics");
    expect(gateway.logs.text + metrics.raw).not.toContain(byokKey);
    expect(gateway.logs.text + metrics.raw).not.toContain("sk-upstream-secret");
  });

  it("metrics: tokens and USD by plan and model, upstream latency and gateway overhead", async () => {
    const key = await createKey(gateway, "budget");
    await sdk(key.secret).chat.completions.create({ model: "gpt-4o-mini", messages, max_tokens: 100 });
    const metrics = (await gateway.call("GET", "/metrics")).raw;
    expect(metrics).toMatch(/tollgate_gateway_tokens_total\{plan="budget",model="gpt-4o-mini",kind="output"\} 100/);
    const cost = (PROMPT * PRICES["gpt-4o-mini"].input + 100 * PRICES["gpt-4o-mini"].output) / 1e6;
    const line = /tollgate_gateway_cost_usd_total\{plan="budget",model="gpt-4o-mini"\} (\S+)/.exec(metrics);
    expect(Number(line?.[1])).toBeCloseTo(Math.ceil(cost * 1e6) / 1e6, 9);
    expect(metrics).toContain("tollgate_gateway_upstream_duration_seconds_count");
    expect(metrics).toContain("tollgate_gateway_overhead_seconds_count");
  });
});

describe("LLM gateway with onBudgetExhausted: finish", () => {
  let upstream: FakeOpenAi;
  let gateway: Gateway;
  beforeAll(async () => {
    upstream = await startFakeOpenAi();
    upstream.runaway("runaway", 400);
    gateway = await startGateway(upstream, { gateway: { onBudgetExhausted: "finish" } });
  });
  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  it("lets the stream end, charges its full usage as debt, and the next call is refused until the quota renews", async () => {
    const key = await createKey(gateway, "tiny");
    const client = new OpenAI({ apiKey: key.secret, baseURL: gateway.baseURL, maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: "runaway", messages, max_tokens: 20, stream: true });
    let received = 0;
    for await (const chunk of stream) if (chunk.choices[0]?.delta?.content) received++;
    expect(received).toBe(400);
    await vi.waitFor(async () =>
      expect(await usedBy(gateway, key.id, "tiny")).toEqual({ "tokens-month": PROMPT + 400 }),
    );
    const next = await client.chat.completions
      .create({ model: "gpt-4o-mini", messages, max_tokens: 1 })
      .catch((e: unknown) => e);
    expect(next).toBeInstanceOf(OpenAI.RateLimitError);
    expect((next as InstanceType<typeof OpenAI.RateLimitError>).headers.get("x-should-retry")).toBe("false");
  });
});
