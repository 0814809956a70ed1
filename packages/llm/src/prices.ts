import type { TokenUsage } from "./tokens.js";

/**
 * What a model costs, in USD per 1M tokens (the unit providers publish). `cachedInput` is the
 * price of input served from the provider's prompt cache; absent, cached input costs `input`.
 *
 * @example
 * const price: ModelPrice = { input: 0.15, output: 0.6, cachedInput: 0.075 }; // gpt-4o-mini
 */
export interface ModelPrice {
  input: number;
  output: number;
  cachedInput?: number;
}

/** Prices by model name. */
export type PriceTable = Readonly<Record<string, ModelPrice>>;

/**
 * The price of a model: its own entry, else the longest entry its name starts with followed by
 * `-` (`gpt-4o-2024-08-06` is priced as `gpt-4o`), else undefined.
 *
 * @example
 * priceOf({ "gpt-4o": { input: 2.5, output: 10 } }, "gpt-4o-2024-08-06"); // { input: 2.5, output: 10 }
 */
export function priceOf(prices: PriceTable, model: string): ModelPrice | undefined {
  const own = Object.hasOwn(prices, model) ? prices[model] : undefined;
  if (own) return own;
  let best: string | undefined;
  for (const name of Object.keys(prices)) {
    if (model.startsWith(`${name}-`) && (best === undefined || name.length > best.length)) best = name;
  }
  return best === undefined ? undefined : prices[best];
}

/**
 * What a call cost in micro-dollars (1 USD = 1,000,000), rounded up: a price in USD per 1M
 * tokens times a token count is micro-dollars, so the figure is exact before the rounding.
 *
 * @example
 * costMicroUsd({ input: 2.5, output: 10 }, { input: 1000, output: 500, cached: 0, total: 1500 }); // 7500 ($0.0075)
 */
export function costMicroUsd(price: ModelPrice, usage: Pick<TokenUsage, "input" | "output" | "cached">): number {
  const cached = Math.min(usage.cached, usage.input);
  const fresh = usage.input - cached;
  const cost = fresh * price.input + cached * (price.cachedInput ?? price.input) + usage.output * price.output;
  // Float products such as 3 x 0.1 land a hair above the exact value: round that noise away first.
  return Math.ceil(Math.round(cost * 1e6) / 1e6);
}
