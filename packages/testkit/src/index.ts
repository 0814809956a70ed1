export { findBinary, freePort, missing } from "./binaries.js";
export { chromiumBinary, launchChromium } from "./chromium.js";
export { type RunningCli, type StartCliOptions, startCli, tollgateCli } from "./cli.js";
export { type FakeOpenAi, type FakeOpenAiCall, type FakeOpenAiOptions, startFakeOpenAi } from "./fake-openai.js";
export { initdbBinary, type PostgresServer, pgCtlBinary, startPostgres } from "./postgres.js";
export {
  type RedisCluster,
  type RedisClusterOptions,
  type RedisServer,
  redisCliBinary,
  redisServerBinary,
  startRedis,
  startRedisCluster,
} from "./redis.js";
