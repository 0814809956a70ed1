/**
 * @tollgate/core: limits that cannot be raced, on any store. No runtime dependencies.
 *
 * @example
 * import { createLimiter, memoryStore } from "@tollgate/core";
 * const limiter = createLimiter({
 *   store: memoryStore(),
 *   limits: [{ name: "llm-hour", per: "user", algorithm: "sliding-window", limit: 20, window: "1h" }],
 * });
 * const decision = await limiter.check({ subject: { user: "u-42" }, cost: 1 });
 */
export * from "./algorithms/index.js";
export type { CacheBackend, CachedValue } from "./cache.js";
export { type CalendarPeriod, isValidTimeZone, type PeriodBounds, periodBounds } from "./calendar.js";
export { ClaimTable } from "./claims.js";
export { type Clock, type ManualClock, manualClock, systemClock } from "./clock.js";
export {
  type CategorySpec,
  type CompiledConfig,
  type CompiledLimit,
  compileConfig,
  type LimitsConfig,
  type PlanSpec,
} from "./config.js";
export type { ChargeReceipt, Decision, DecisionReason, LimitStatus, MissingSubject } from "./decision.js";
export { formatDuration, parseDuration } from "./duration.js";
export { ConfigError, InputError, type Issue, StoreUnavailableError, TollgateError } from "./errors.js";
export { type Evaluation, evaluateDecision } from "./evaluate.js";
export { type DenialProblem, denialProblem, type HeaderOptions, rateLimitHeaders } from "./headers.js";
export {
  ALGORITHMS,
  type AlgorithmName,
  type FailMode,
  type Limit,
  type LimitMode,
  type LimitSpec,
  type LimitUnit,
  MAX_AMOUNT,
  MAX_SLIDING_LOG_LIMIT,
  MICRO_USD_PER_USD,
  PERIODS,
  parseLimit,
  parseLimits,
  SUBJECT_KINDS,
  type SubjectKind,
  type WhenMissing,
} from "./limit.js";
export {
  type AdjustOutcome,
  type CheckInput,
  createLimiter,
  type Limiter,
  type LimiterHooks,
  type LimiterOptions,
} from "./limiter.js";
export { type MemoryStore, type MemoryStoreOptions, memoryStore } from "./memory-store.js";
export { isName, NAME_PATTERN, NAME_RULE } from "./names.js";
export { noopLimiter } from "./noop-limiter.js";
export {
  PROBLEM_CONTENT_TYPE,
  PROBLEM_KINDS,
  PROBLEM_MEMBERS,
  PROBLEM_TYPE_BASE,
  PROBLEMS,
  type Problem,
  type ProblemKind,
  type ProblemMember,
  type ProblemName,
  problemKind,
  problemOf,
} from "./problems.js";
export {
  type BreakerOptions,
  type BreakerState,
  CircuitBreaker,
  DEFAULT_BREAKER,
  type DeadlineOptions,
  StoreTimeoutError,
  withDeadline,
  withTimeout,
} from "./resilience.js";
export type {
  AdjustItem,
  CounterRef,
  DecideItem,
  DecideRequest,
  DecideResult,
  Outcome,
  ReleaseItem,
  SeedItem,
  Store,
} from "./store.js";
export type { HealthEvent, HealthListener, PartitionHealth, StoreHealth } from "./store-guard.js";
export { GLOBAL_ID, MAX_ID_LENGTH, SUBJECT_FIELDS, type Subject, subjectId, validateSubject } from "./subject.js";
export { noopUsageObserver, type UsageObserver } from "./usage.js";
