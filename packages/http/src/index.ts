/**
 * @tollgate/http: framework-neutral request handling for Tollgate. The adapters live in subpath
 * exports: `@tollgate/http/express`, `/fastify`, `/hono`, `/next`.
 *
 * @example
 * import { createGate, resultCache, memoryCache } from "@tollgate/http";
 * const gate = createGate(limiter, { subject: (req) => ({ user: req.userId }) });
 */
// LLM metering lives in @tollgate/llm (shared with the gateway); re-exported here for existing imports.
export {
  BodyMeter,
  byokHeaderNames,
  DEFAULT_BYOK_HEADERS,
  DEFAULT_MAX_TOKENS,
  estimateTokens,
  type FinishOptions,
  type MeteredOutcome,
  type MeterResult,
  meterNodeResponse,
  meterWebResponse,
  promptTokens,
  providerKey,
  settleOnce,
  stripProviderKey,
  type TokenCostOptions,
  TokenMeter,
  usageTokens,
} from "@tollgate/llm";
export {
  type CacheResult,
  cacheKey,
  memoryCache,
  normalizeInput,
  type ResultCache,
  type ResultCacheOptions,
  resultCache,
} from "./cache.js";
export {
  type Authorization,
  apiKeySubjectId,
  createGate,
  createIdentity,
  createUsage,
  type GateOptions,
  type GateResult,
  type Identity,
  type RequestFacts,
  type RequestView,
  releaseWhenDone,
  type SubjectInput,
  type TollgateContext,
} from "./gate.js";
export { compileTrust, formatIp, ipSubject, parseIp } from "./ip.js";
export { inputProblem, PROBLEM_CONTENT_TYPE, type Problem, refusal } from "./problem.js";
export { type AddressSource, clientAddress, parseForwarded, parseXForwardedFor, type TrustProxy } from "./proxy.js";
export { type LimitUsage, readUsage, type UsageReport, usageReport } from "./usage.js";
export { type Logger, warnOnce } from "./warn.js";
