/**
 * @tollgate/http: framework-neutral request handling for Tollgate. The adapters live in subpath
 * exports: `@tollgate/http/express`, `/fastify`, `/hono`, `/next`.
 *
 * @example
 * import { createGate, resultCache, memoryCache } from "@tollgate/http";
 * const gate = createGate(limiter, { subject: (req) => ({ user: req.userId }) });
 */
export { BodyMeter, type MeterResult } from "./body-meter.js";
export { byokHeaderNames, DEFAULT_BYOK_HEADERS, providerKey, stripProviderKey } from "./byok.js";
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
export { meterNodeResponse, meterWebResponse } from "./meter.js";
export { inputProblem, PROBLEM_CONTENT_TYPE, type Problem, refusal } from "./problem.js";
export { type AddressSource, clientAddress, parseForwarded, parseXForwardedFor, type TrustProxy } from "./proxy.js";
export {
  DEFAULT_MAX_TOKENS,
  estimateTokens,
  type FinishOptions,
  type MeteredOutcome,
  promptTokens,
  settleOnce,
  type TokenCostOptions,
  TokenMeter,
  usageTokens,
} from "./tokens.js";
export { type LimitUsage, readUsage, type UsageReport, usageReport } from "./usage.js";
export { type Logger, warnOnce } from "./warn.js";
