import { estimateTokens, TokenMeter } from "@tollgate/llm";
import { describe, expect, it } from "vitest";

describe("token meter", () => {
  it("estimates from max_tokens plus the prompt", () => {
    expect(estimateTokens({ max_tokens: 500 })).toBe(500);
    expect(estimateTokens({ max_tokens: 10, messages: [{ role: "user", content: "x".repeat(100) }] })).toBeGreaterThan(
      30,
    );
    expect(estimateTokens({})).toBe(1024);
  });
  it("reads usage from a JSON body and from the final SSE chunk split across writes", () => {
    const json = new TokenMeter(0, "application/json");
    json.write('{"usage":{"total_');
    json.write('tokens":12}}');
    json.end();
    expect(json.tokens()).toBe(12);
    const sse = new TokenMeter(5, "text/event-stream");
    sse.write('data: {"choices":[{"delta":{"content":"abcd"}}]}\n\ndata: {"usage":{"total');
    expect(sse.tokens()).toBe(6);
    sse.write('_tokens":99}}\n\ndata: [DONE]\n\n');
    sse.end();
    expect(sse.reported).toBe(true);
    expect(sse.tokens()).toBe(99);
  });
});
