import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { missing, type RedisServer, redisServerBinary, startRedis } from "@tollgate/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uniquePrefix } from "./helpers.js";

const run = promisify(execFile);
const worker = fileURLToPath(new URL("./fixtures/accuracy-worker.mjs", import.meta.url));
const skip = missing(redisServerBinary, "redis-server");

/** 4 OS processes x 64 concurrent callers on one key for 2 s, deciding at Redis TIME. */
async function fourProcesses(url: string, algorithm: string) {
  const prefix = uniquePrefix(algorithm);
  const outputs = await Promise.all(
    Array.from({ length: 4 }, () =>
      run(process.execPath, [worker, url, prefix, algorithm, "2000"], { timeout: 30_000 }),
    ),
  );
  return outputs.map(({ stdout }) => JSON.parse(stdout.trim().split("\n").at(-1) as string));
}

describe.skipIf(skip)("accuracy across processes (real Redis, Redis TIME)", () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.stop());

  for (const algorithm of ["fixed-window", "token-bucket", "quota"]) {
    it(`${algorithm}: limit 100, 4 processes x 64 callers for 2 s admit exactly 100`, async () => {
      const results = await fourProcesses(redis.url, algorithm);
      expect(results.reduce((sum, r) => sum + r.admitted, 0)).toBe(100);
    });
  }

  it("concurrency: a limit of 5 in flight is never exceeded at any instant", async () => {
    const results = await fourProcesses(redis.url, "concurrency");
    expect(Math.max(...results.map((r) => r.maxInFlight))).toBeLessThanOrEqual(5);
    expect(results.reduce((sum, r) => sum + r.admitted, 0)).toBeGreaterThan(50);
  });
});
