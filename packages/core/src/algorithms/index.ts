import type { AlgorithmName } from "../limit.js";
import { concurrency } from "./concurrency.js";
import { fixedWindow } from "./fixed-window.js";
import { quota } from "./quota.js";
import { slidingLog } from "./sliding-log.js";
import { slidingWindow } from "./sliding-window.js";
import { tokenBucket } from "./token-bucket.js";
import type { Algorithm } from "./types.js";

export type { ConcurrencyState } from "./concurrency.js";
export type { FixedWindowState } from "./fixed-window.js";
export type { QuotaState } from "./quota.js";
export type { SlidingLogState } from "./sliding-log.js";
export type { SlidingWindowState } from "./sliding-window.js";
export type { TokenBucketState } from "./token-bucket.js";
export type { Algorithm, Charge, CounterView } from "./types.js";
export { TIME_EPSILON_MS } from "./types.js";
export { concurrency, fixedWindow, quota, slidingLog, slidingWindow, tokenBucket };

/** Any algorithm's state; stores keep it opaque. */
export type CounterState = object;

/** The reference implementation of each algorithm by name. */
export const algorithms: Readonly<Record<AlgorithmName, Algorithm<CounterState>>> = Object.freeze({
  "fixed-window": fixedWindow as Algorithm<CounterState>,
  "sliding-window": slidingWindow as Algorithm<CounterState>,
  "sliding-log": slidingLog as Algorithm<CounterState>,
  "token-bucket": tokenBucket as Algorithm<CounterState>,
  quota: quota as Algorithm<CounterState>,
  concurrency: concurrency as Algorithm<CounterState>,
});
