import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type FakeOpenAi,
  missing,
  type RedisServer,
  redisServerBinary,
  startFakeOpenAi,
  startRedis,
} from "@tollgate/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gatewayConfigFile, startGateway, usedBy } from "./gateway-helpers.js";
import { ADMIN } from "./helpers.js";

const CLI = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "cli.js");
/** The bound under test: a reservation is released this long after it was made (plus one sweep). */
const RESERVATION_MS = 2000;
const SWEEP_MS = 200;
const GATEWAY = {
  upstreamTimeout: "1500ms",
  reservationTimeout: `${RESERVATION_MS}ms`,
  sweepInterval: `${SWEEP_MS}ms`,
};

/** `tollgate serve` in its own process (its own embedded database), counters in the shared Redis. */
async function serve(file: string, redisUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [CLI, "serve", "--port", "0", "--config", file], {
    cwd: mkdtempSync(join(tmpdir(), "tollgate-crash-")),
    env: {
      PATH: process.env.PATH ?? "",
      TOLLGATE_REDIS_URL: redisUrl,
      TOLLGATE_ADMIN_TOKEN: ADMIN,
      TOLLGATE_TEST_UPSTREAM_KEY: "sk-upstream-secret-0123456789",
      TOLLGATE_LOG_LEVEL: "warn",
      TOLLGATE__stores__timeoutMs: "5000",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => {
    output += d;
  });
  child.stderr?.on("data", (d: Buffer) => {
    output += d;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line:\n${output}`)), 150_000);
    const poll = setInterval(() => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (!match) return;
      clearInterval(poll);
      clearTimeout(timer);
      resolve(match[1] as string);
    }, 50);
    child.once("exit", (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`exited ${code}:\n${output}`));
    });
  });
  return { child, url };
}

describe.skipIf(missing(redisServerBinary, "redis-server"))("a gateway killed mid-call", () => {
  let redis: RedisServer;
  let upstream: FakeOpenAi;
  beforeAll(async () => {
    redis = await startRedis();
    upstream = await startFakeOpenAi();
  });
  afterAll(async () => {
    await upstream?.close();
    await redis?.stop();
  });

  it("leaves a reservation that another instance releases within reservationTimeout", async () => {
    const file = gatewayConfigFile(upstream, GATEWAY);
    const doomed = await serve(file, redis.url);
    const survivor = await startGateway(upstream, {
      gateway: GATEWAY,
      clock: { now: () => Date.now() },
      env: { TOLLGATE_REDIS_URL: redis.url, TOLLGATE__stores__timeoutMs: "5000" },
    });
    try {
      const created = await fetch(`${doomed.url}/v1/admin/keys`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
        body: JSON.stringify({ owner: "org:acme", plan: "pro", name: "doomed" }),
      });
      const key = (await created.json()) as { id: string; secret: string };
      // A stream that hangs after one token, so the call is still open when the process dies.
      upstream.pauseAfter(1);
      const response = await fetch(`${doomed.url}/gateway/openai/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${key.secret}`, "content-type": "application/json" },
        body: JSON.stringify({
          model: "gpt-4o-mini",
          max_tokens: 5000,
          stream: true,
          messages: [{ role: "user", content: "hi" }],
        }),
      });
      const reader = response.body?.getReader();
      await reader?.read(); // the first token arrived: the reservation is open
      const reserved = (await usedBy(survivor, key.id, "pro"))["tokens-month"] ?? 0;
      expect(reserved).toBeGreaterThan(5000);
      doomed.child.kill("SIGKILL");
      const killedAt = Date.now();
      await reader?.read().catch(() => undefined);
      let released = Number.NaN;
      while (Date.now() - killedAt < RESERVATION_MS + SWEEP_MS + 5000) {
        if ((await usedBy(survivor, key.id, "pro"))["tokens-month"] === 0) {
          released = Date.now() - killedAt;
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      console.log(
        `[gateway crash] ${reserved} reserved tokens released ${released} ms after the kill (bound ${RESERVATION_MS + SWEEP_MS} ms + one sweep)`,
      );
      // The bound plus slack for timers running late on a loaded machine.
      expect(released).toBeLessThanOrEqual(RESERVATION_MS + 2 * SWEEP_MS + 1500);
    } finally {
      upstream.pauseAfter(undefined);
      doomed.child.kill("SIGKILL");
      await survivor.close();
    }
  }, 240_000);
});
