import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Db, openDb } from "@tollgate/db";
import {
  missing,
  type PostgresServer,
  pgCtlBinary,
  type RedisServer,
  type RunningCli,
  redisCliBinary,
  redisServerBinary,
  startCli,
  startPostgres,
  startRedis,
} from "@tollgate/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const SERVICE = "durability-service-token-0123456789";
const ADMIN = "durability-admin-token-0123456789";
const FLUSH_MS = 1000;

/** Plans of this test: a 1000-a-month metered tier and a bulk tier that never runs out. */
const CONFIG = {
  log: { level: "warn", requests: false },
  // Four servers and their load share two cores here: generous timeouts keep decisions undegraded.
  stores: { timeoutMs: 2000 },
  ledger: { flushInterval: `${FLUSH_MS}ms`, restoreTimeoutMs: 10_000 },
  plans: {
    metered: { limits: [{ name: "month", per: "key", algorithm: "quota", limit: 1000, period: "month" }] },
    bulk: { limits: [{ name: "month", per: "key", algorithm: "quota", limit: 100_000_000, period: "month" }] },
  },
};

/** The real CLI with this test's configuration file, in a fresh directory. */
function serve(env: Record<string, string>): Promise<RunningCli> {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-durability-"));
  const file = join(dir, "tollgate.json");
  writeFileSync(file, JSON.stringify(CONFIG));
  return startCli({
    cwd: dir,
    args: ["--config", file],
    env: { TOLLGATE_SERVICE_TOKEN: SERVICE, TOLLGATE_ADMIN_TOKEN: ADMIN, ...env },
    startTimeoutMs: 90_000,
  });
}

async function check(url: string, key: string, plan: string): Promise<boolean> {
  const res = await fetch(`${url}/v1/check`, {
    method: "POST",
    headers: { authorization: `Bearer ${SERVICE}`, "content-type": "application/json" },
    body: JSON.stringify({ subject: { key }, plan }),
  });
  // 503 while the server shuts down: a client would go elsewhere; the load loop stops.
  if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
  const body = (await res.json()) as { allowed: boolean; degraded?: boolean };
  if (body.degraded) throw new Error("degraded decision: the test needs the store up");
  return body.allowed;
}

/** Steady load from `callers` loops until `stop()`; every allowed answer is timestamped. */
function load(url: string, key: string, callers: number) {
  const allowedAt: number[] = [];
  let running = true;
  let inFlight = 0;
  let maxInFlightAtStop = 0;
  const loops = Array.from({ length: callers }, async () => {
    while (running) {
      inFlight++;
      try {
        if (await check(url, key, "bulk")) allowedAt.push(Date.now());
      } catch {
        return; // the server went away
      } finally {
        inFlight--;
      }
    }
  });
  return {
    allowedAt,
    inFlight: () => inFlight,
    async stop() {
      maxInFlightAtStop = inFlight;
      running = false;
      await Promise.all(loops);
      return maxInFlightAtStop;
    },
  };
}

async function ledgerTotal(db: Db, subject: string): Promise<number> {
  const row = await db.kysely
    .selectFrom("usage_hourly")
    .select((eb) => eb.fn.sum<string>("quantity").as("q"))
    .where("subject", "=", subject)
    .executeTakeFirst();
  return Number(row?.q ?? 0);
}

async function waitFor(what: string, test: () => Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(missing(pgCtlBinary, "PostgreSQL 15 (pg_ctl, initdb)"))(
  "ledger durability (real CLI, Postgres)",
  () => {
    let pg: PostgresServer;
    let db: Db;
    beforeAll(async () => {
      pg = await startPostgres();
      db = await openDb({ url: pg.url });
    });
    afterAll(async () => {
      await db?.close();
      await pg?.stop();
    });

    it("SIGKILL under steady load loses at most one flush interval of decisions; SIGTERM loses nothing", async () => {
      const env = { TOLLGATE_DATABASE_URL: pg.url };
      const first = await serve(env);
      const traffic = load(first.url, "crash", 16);
      await sleep(5_000);
      const killedAt = Date.now();
      first.child.kill("SIGKILL");
      const inFlight = await traffic.stop();
      await first.exited;
      const acknowledged = traffic.allowedAt.length;
      const recorded = await ledgerTotal(db, "key:crash");
      const lost = acknowledged - recorded;
      const lastInterval = traffic.allowedAt.filter((t) => t > killedAt - FLUSH_MS).length;
      const rate = acknowledged / 5;
      console.log(
        `SIGKILL: ${acknowledged} allowed decisions acknowledged in 5 s (${Math.round(rate)}/s), ${recorded} in the ledger after restart: ` +
          `${lost} lost = ${(lost / rate).toFixed(2)} s of traffic; one flush interval (${FLUSH_MS} ms) held ${lastInterval}, ${inFlight} were in flight`,
      );
      // At most the usage of one flush interval, plus decisions charged whose answer never arrived.
      expect(lost).toBeLessThanOrEqual(lastInterval);
      expect(lost).toBeGreaterThanOrEqual(-inFlight);

      // A clean stop writes everything: the ledger equals the acknowledged decisions exactly.
      const second = await serve(env);
      const before = await ledgerTotal(db, "key:crash");
      const steady = load(second.url, "crash", 16);
      await sleep(3_000);
      second.child.kill("SIGTERM");
      await steady.stop();
      const code = await second.exited;
      expect(code, second.output()).toBe(0);
      const written = (await ledgerTotal(db, "key:crash")) - before;
      console.log(`SIGTERM: ${steady.allowedAt.length} allowed decisions acknowledged, ${written} written: none lost`);
      expect(written).toBe(steady.allowedAt.length);
    }, 240_000);

    it("Postgres stopped for 10 s under load: decisions go on, readiness says degraded, totals exact after catch-up", async () => {
      const running = await serve({ TOLLGATE_DATABASE_URL: pg.url });
      try {
        const before = await ledgerTotal(db, "key:outage");
        expect(await check(running.url, "outage", "bulk")).toBe(true); // restored (seeded) before the outage
        const traffic = load(running.url, "outage", 8);
        await sleep(1_500);
        await pg.halt();
        const pausedAt = traffic.allowedAt.length;
        await sleep(10_000);
        const during = traffic.allowedAt.length - pausedAt;
        const ready = (await (await fetch(`${running.url}/readyz`)).json()) as { checks: Record<string, string> };
        await pg.start();
        await sleep(1_500);
        await traffic.stop();
        console.log(
          `Postgres down 10 s: ${during} decisions allowed meanwhile; readiness said ledger "${ready.checks.ledger}"`,
        );
        expect(during).toBeGreaterThan(100);
        expect(ready.checks.ledger).toMatch(/^degraded: \d+ usage rows buffered/);
        const allowed = traffic.allowedAt.length + 1;
        await waitFor("the ledger to catch up", async () => (await ledgerTotal(db, "key:outage")) - before === allowed);
        expect((await ledgerTotal(db, "key:outage")) - before).toBe(allowed);
        const after = (await (await fetch(`${running.url}/readyz`)).json()) as { checks: Record<string, string> };
        expect(after.checks.ledger).toBe("ok");
      } finally {
        running.child.kill("SIGTERM");
        await running.exited;
      }
    }, 180_000);

    describe.skipIf(missing(redisServerBinary, "redis-server"))("with Redis counters", () => {
      let redis: RedisServer;
      beforeAll(async () => {
        redis = await startRedis();
      });
      afterAll(() => redis?.stop());

      it("FLUSHALL and a Redis restart without persistence: 4 processes x 64 callers admit exactly the remaining allowance", async () => {
        const env = { TOLLGATE_DATABASE_URL: pg.url, TOLLGATE_REDIS_URL: redis.url };
        const servers = await Promise.all([0, 1, 2, 3].map(() => serve(env)));
        try {
          const race = async (key: string) => {
            const answers = await Promise.all(
              Array.from({ length: 256 }, (_, i) => check((servers[i % 4] as RunningCli).url, key, "metered")),
            );
            return answers.filter(Boolean).length;
          };
          const spend = async (key: string, n: number) => {
            for (let i = 0; i < n; i += 25) {
              await Promise.all(
                Array.from({ length: Math.min(25, n - i) }, (_, j) =>
                  check((servers[(i + j) % 4] as RunningCli).url, key, "metered"),
                ),
              );
            }
            await waitFor(
              `${n} units of ${key} in the ledger`,
              async () => (await ledgerTotal(db, `key:${key}`)) === n,
            );
          };

          await spend("flushed", 900);
          execFileSync(redisCliBinary as string, ["-p", String(redis.port), "FLUSHALL"]);
          const admitted = await race("flushed");
          console.log(`FLUSHALL at 900/1000: 4 processes x 64 callers admitted ${admitted}`);
          expect(admitted).toBe(100);

          await spend("restarted", 950);
          await redis.kill();
          await redis.restart(); // no RDB, no AOF: every counter is gone
          for (const server of servers) {
            await waitFor("the server to reconnect", async () => (await fetch(`${server.url}/readyz`)).status === 200);
          }
          const afterRestart = await race("restarted");
          console.log(`Redis restarted empty at 950/1000: 4 processes x 64 callers admitted ${afterRestart}`);
          expect(afterRestart).toBe(50);
        } finally {
          for (const server of servers) server.child.kill("SIGTERM");
          await Promise.all(servers.map((s) => s.exited));
        }
      }, 300_000);
    });
  },
);
