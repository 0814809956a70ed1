export { findBinary, freePort, missing } from "./binaries.js";
export {
  type RedisCluster,
  type RedisServer,
  redisCliBinary,
  redisServerBinary,
  startRedis,
  startRedisCluster,
} from "./redis.js";
export { initdbBinary, type PostgresServer, pgCtlBinary, startPostgres } from "./postgres.js";
