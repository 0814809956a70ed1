import { costMicroUsd, priceOf } from "@tollgate/llm";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

describe("prices", () => {
  it("prices dated variants as their family, the longest matching entry first", () => {
    const prices = { "gpt-4o": { input: 2.5, output: 10 }, "gpt-4o-mini": { input: 0.15, output: 0.6 } };
    expect(priceOf(prices, "gpt-4o-2024-08-06")).toEqual(prices["gpt-4o"]);
    expect(priceOf(prices, "gpt-4o-mini-2024-07-18")).toEqual(prices["gpt-4o-mini"]);
    expect(priceOf(prices, "gpt-4")).toBeUndefined();
    expect(priceOf(prices, "toString")).toBeUndefined();
  });

  it("costs micro-dollars: USD per 1M tokens times tokens, cached input at its own price", () => {
    const price = { input: 2.5, output: 10, cachedInput: 1.25 };
    expect(costMicroUsd(price, { input: 1000, output: 500, cached: 0 })).toBe(7500);
    expect(costMicroUsd(price, { input: 1000, output: 0, cached: 400 })).toBe(600 * 2.5 + 400 * 1.25);
    expect(costMicroUsd({ input: 0.1, output: 0.1 }, { input: 3, output: 0, cached: 0 })).toBe(1);
  });

  it("never undercharges against exact arithmetic (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.nat({ max: 1_000_000 }),
        fc.nat({ max: 1_000_000 }),
        (inputCents, outputCents, input, output) => {
          // Prices in whole cents per 1M tokens keep the reference exact in integers.
          const exact = (input * inputCents + output * outputCents) / 100;
          const cost = costMicroUsd(
            { input: inputCents / 100, output: outputCents / 100 },
            { input, output, cached: 0 },
          );
          expect(cost).toBeGreaterThanOrEqual(Math.ceil(exact - 1e-9));
          expect(cost).toBeLessThanOrEqual(Math.ceil(exact) + 0);
        },
      ),
    );
  });
});
