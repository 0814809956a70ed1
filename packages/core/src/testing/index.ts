/**
 * `@tollgate/core/testing`: the store conformance suite and the reference model it compares with.
 * Needs `vitest` and `fast-check` (peer dependencies, test-time only).
 *
 * @example
 * import { describeStoreConformance } from "@tollgate/core/testing";
 * describeStoreConformance({ name: "redis", create: (clock) => redisStore({ url, clock, prefix: randomPrefix() }) });
 */
export { type ConformanceTarget, describeStoreConformance } from "./conformance.js";
export { CONFORMANCE_LIMITS, HOSTILE_IDS } from "./fixtures.js";
export { differences, type Operation, operations, peekAll, play, startTime } from "./operations.js";
export { referenceStore } from "./reference-store.js";
