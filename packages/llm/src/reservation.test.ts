import { gzipSync } from "node:zlib";
import { createLimiter, memoryStore } from "@tollgate/core";
import { BodyMeter, callAllowance, chargeOf, estimateCall, reserveCall, TokenMeter, usageOf } from "@tollgate/llm";
import { describe, expect, it } from "vitest";

const price = { input: 2, output: 8, cachedInput: 1 };

function limiterWith() {
  return createLimiter({
    store: memoryStore(),
    limits: [
      { name: "tokens", per: "user", algorithm: "quota", period: "month", limit: 10_000, unit: "tokens" },
      { name: "spend", per: "user", algorithm: "quota", period: "month", limit: 0.05, unit: "usd" },
      { name: "calls", per: "user", algorithm: "fixed-window", limit: 100, window: "1m" },
    ],
  });
}

const used = async (limiter: ReturnType<typeof limiterWith>) => {
  const peek = await limiter.peek({ subject: { user: "u" } });
  return Object.fromEntries(peek.limits.map((l) => [l.name, l.used]));
};

describe("usage extraction", () => {
  it("reads Chat Completions, Responses API and embeddings usage, with cached input", () => {
    expect(
      usageOf({
        usage: {
          prompt_tokens: 10,
          completion_tokens: 5,
          total_tokens: 15,
          prompt_tokens_details: { cached_tokens: 4 },
        },
      }),
    ).toEqual({ input: 10, output: 5, cached: 4, total: 15 });
    expect(
      usageOf({
        type: "response.completed",
        response: {
          usage: { input_tokens: 7, output_tokens: 3, total_tokens: 10, input_tokens_details: { cached_tokens: 2 } },
        },
      }),
    ).toEqual({ input: 7, output: 3, cached: 2, total: 10 });
    expect(usageOf({ usage: { prompt_tokens: 8, total_tokens: 8 } })).toEqual({
      input: 8,
      output: 0,
      cached: 0,
      total: 8,
    });
    expect(usageOf({ usage: null })).toBeUndefined();
  });

  it("counts Responses API text deltas as output when no usage arrives", () => {
    const meter = new TokenMeter(3, "text/event-stream");
    meter.write(
      'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"abcdefgh"}\n\n',
    );
    meter.end();
    expect(meter.usage()).toEqual({ input: 3, output: 2, cached: 0, total: 5 });
  });

  it("reads the usage of a gzip-compressed SSE stream", () => {
    const body = gzipSync(
      'data: {"choices":[{"delta":{"content":"hi"}}]}\n\ndata: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":9,"total_tokens":12}}\n\ndata: [DONE]\n\n',
    );
    const meter = new BodyMeter(0, "text/event-stream", "gzip");
    meter.write(body.subarray(0, 10));
    meter.write(body.subarray(10));
    meter.end();
    expect(meter.usage()).toEqual({ input: 3, output: 9, cached: 0, total: 12 });
  });
});

describe("reserve, settle, refund", () => {
  it("reserves the worst case in tokens and money, then settles both from usage", async () => {
    const limiter = limiterWith();
    const estimate = estimateCall({ max_tokens: 1000, messages: "x".repeat(400) }, { price });
    expect(estimate.tokens).toBe(estimate.prompt + 1000);
    expect(estimate.microUsd).toBe(estimate.prompt * 2 + 8000);
    const call = await reserveCall(limiter, { subject: { user: "u" } }, estimate);
    expect(call.decision.allowed).toBe(true);
    expect(await used(limiter)).toEqual({ tokens: estimate.tokens, spend: estimate.microUsd, calls: 1 });
    const usage = { input: 100, output: 20, cached: 50, total: 120 };
    call.finish({ ...chargeOf(usage, price), reported: true, status: 200 });
    call.finish({ tokens: 9999, microUsd: 9999, reported: true, status: 200 }); // once
    await new Promise((resolve) => setImmediate(resolve));
    expect(await used(limiter)).toEqual({ tokens: 120, spend: 50 * 2 + 50 * 1 + 20 * 8, calls: 1 });
  });

  it("denies a call whose worst-case cost does not fit the money left, charging nothing", async () => {
    const limiter = limiterWith();
    // 0.05 USD = 50,000 micro-dollars; 7,000 output tokens at $8/1M = 56,000.
    const call = await reserveCall(limiter, { subject: { user: "u" } }, estimateCall({ max_tokens: 7000 }, { price }));
    expect(call.decision.allowed).toBe(false);
    expect(call.decision.reason).toBe("cost_exceeds_limit");
    expect(await used(limiter)).toEqual({ tokens: 0, spend: 0, calls: 0 });
  });

  it("refunds an upstream error that reported no usage", async () => {
    const limiter = limiterWith();
    const call = await reserveCall(limiter, { subject: { user: "u" } }, estimateCall({ max_tokens: 10 }, { price }));
    call.finish({ tokens: 50, microUsd: 50, reported: false, status: 500 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(await used(limiter)).toEqual({ tokens: 0, spend: 0, calls: 0 });
  });

  it("skips token and money limits for a caller's own provider key", async () => {
    const limiter = limiterWith();
    const call = await reserveCall(
      limiter,
      { subject: { user: "u" }, byok: true },
      estimateCall({ max_tokens: 50_000 }, { price }),
    );
    expect(call.decision.allowed).toBe(true);
    expect(await used(limiter)).toEqual({ tokens: 0, spend: 0, calls: 1 });
  });

  it("tells how much more a call may spend: remaining plus its own reservation", async () => {
    const limiter = limiterWith();
    const estimate = estimateCall({ max_tokens: 100 }, { price });
    const call = await reserveCall(limiter, { subject: { user: "u" } }, estimate);
    expect(callAllowance(call.decision, estimate)).toEqual({ tokens: 10_000, microUsd: 50_000 });
  });
});
