/**
 * @tollgate/llm: LLM metering for Tollgate, shared by the HTTP adapters and the gateway so both
 * count the same way. Token estimates, usage from JSON bodies, SSE streams and compressed bodies,
 * prices in USD per 1M tokens, and the reserve / settle / refund lifecycle of one call.
 *
 * @example
 * import { estimateCall, reserveCall, TokenMeter, chargeOf } from "@tollgate/llm";
 */
export { BodyMeter, type MeterResult } from "./body-meter.js";
export { byokHeaderNames, DEFAULT_BYOK_HEADERS, providerKey, stripProviderKey } from "./byok.js";
export { meterNodeResponse, meterWebResponse } from "./meter.js";
export { costMicroUsd, type ModelPrice, type PriceTable, priceOf } from "./prices.js";
export {
  type CallEstimate,
  callAllowance,
  chargeOf,
  estimateCall,
  type Reservation,
  reserveCall,
} from "./reservation.js";
export {
  CHARS_PER_TOKEN,
  DEFAULT_MAX_TOKENS,
  estimateTokens,
  type FinishOptions,
  type MeteredOutcome,
  maxOutputTokens,
  producedText,
  promptTokens,
  settleOnce,
  type TokenCostOptions,
  TokenMeter,
  type TokenUsage,
  usageOf,
  usageTokens,
} from "./tokens.js";
