import type { CheckInput, Decision, Limiter } from "@tollgate/core";
import { costMicroUsd, type ModelPrice } from "./prices.js";
import {
  DEFAULT_MAX_TOKENS,
  type FinishOptions,
  type MeteredOutcome,
  maxOutputTokens,
  promptTokens,
  settleOnce,
  type TokenUsage,
} from "./tokens.js";

/** What one LLM call may spend at most, reserved before it runs. */
export interface CallEstimate {
  /** Prompt tokens, estimated from the request body. */
  prompt: number;
  /** The most output the request allows (`max_tokens`, `max_output_tokens`, or the default). */
  maxOutput: number;
  /** `prompt + maxOutput`: reserved on `unit: tokens` limits. */
  tokens: number;
  /** The worst-case cost in micro-dollars (all input uncached, all output produced); 0 without a price. */
  microUsd: number;
}

/**
 * The worst case of an OpenAI-compatible request: what to reserve before calling the model.
 *
 * @example
 * estimateCall({ model: "gpt-4o", max_tokens: 500, messages }, { price: { input: 2.5, output: 10 } });
 */
export function estimateCall(
  body: unknown,
  options: { defaultMaxOutput?: number; price?: ModelPrice | undefined } = {},
): CallEstimate {
  const prompt = promptTokens(body);
  const maxOutput = maxOutputTokens(body, options.defaultMaxOutput ?? DEFAULT_MAX_TOKENS);
  const microUsd = options.price ? costMicroUsd(options.price, { input: prompt, output: maxOutput, cached: 0 }) : 0;
  return { prompt, maxOutput, tokens: prompt + maxOutput, microUsd };
}

/** What a finished call is charged: its tokens and, with a price, its cost. */
export function chargeOf(usage: TokenUsage, price: ModelPrice | undefined): { tokens: number; microUsd: number } {
  return { tokens: usage.total, microUsd: price ? costMicroUsd(price, usage) : 0 };
}

/**
 * How much more this call may spend before it passes the subject's budget, as the decision saw
 * it: for each enforced token (money) limit, its remaining plus what this call reserved; the
 * smallest wins. `Infinity` where no such limit applied.
 */
export function callAllowance(decision: Decision, reserved: { tokens: number; microUsd: number }) {
  let tokens = Number.POSITIVE_INFINITY;
  let microUsd = Number.POSITIVE_INFINITY;
  for (const status of decision.limits) {
    if (status.mode !== "enforce") continue;
    if (status.unit === "tokens") tokens = Math.min(tokens, status.remaining + reserved.tokens);
    else if (status.unit === "usd") microUsd = Math.min(microUsd, status.remaining + reserved.microUsd);
  }
  return { tokens, microUsd };
}

/** An allowed (or denied) reservation and the one way to end it. */
export interface Reservation {
  decision: Decision;
  estimate: CallEstimate;
  /** Settles with the metered outcome, or refunds an upstream error that reported no usage; once. */
  finish(outcome: MeteredOutcome): void;
}

/**
 * Reserves a call's worst case (requests, tokens and money in one all-or-nothing decision) and
 * returns the decision with its `finish`: settle from the upstream's usage, or refund a failed
 * call that produced nothing, at most once whichever path ends first.
 *
 * @example
 * const r = await reserveCall(limiter, { subject: { key: "key_1" }, category: "llm_call" }, estimate);
 * if (r.decision.allowed) r.finish({ tokens: 42, microUsd: 120, reported: true, status: 200 });
 */
export async function reserveCall(
  limiter: Limiter,
  input: Omit<CheckInput, "cost" | "microUsd">,
  estimate: CallEstimate,
  options: FinishOptions = {},
): Promise<Reservation> {
  const decision = await limiter.check({ ...input, cost: Math.max(1, estimate.tokens), microUsd: estimate.microUsd });
  const finish = settleOnce(limiter, decision.allowed ? decision : undefined, options);
  return { decision, estimate, finish };
}
