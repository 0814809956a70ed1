import { describeStoreConformance } from "@tollgate/core/testing";
import { redisStore } from "@tollgate/redis";
import {
  missing,
  type RedisCluster,
  type RedisServer,
  redisServerBinary,
  startRedis,
  startRedisCluster,
} from "@tollgate/testkit";
import { afterAll, beforeAll, describe } from "vitest";
import { uniquePrefix } from "./helpers.js";

const skip = missing(redisServerBinary, "redis-server");
// Each scenario costs round trips per step: a tenth of the memory store's scenario count keeps
// both targets within a minute or two on a 2-core machine.
const runsScale = Number(process.env.TOLLGATE_CONFORMANCE_SCALE ?? 0.05);

describe.skipIf(skip)("redis store", () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.stop());
  describeStoreConformance({
    name: "redis (single node)",
    runsScale,
    create: (clock) => redisStore({ url: redis.url, clock, prefix: uniquePrefix("single") }),
    destroy: (store) => store.close?.(),
  });
});

describe.skipIf(skip)("redis cluster store", () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster(3);
  });
  afterAll(() => cluster?.stop());
  describeStoreConformance({
    name: "redis (3-master cluster)",
    runsScale,
    create: (clock) => redisStore({ nodes: cluster.nodes, clock, prefix: uniquePrefix("cluster") }),
    destroy: (store) => store.close?.(),
  });
});
