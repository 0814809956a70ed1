// The hostile-input suite against the real CLI on PGlite and on Postgres. Short form here (a few
// thousand requests per database); `npm run fuzz` runs the full form (100,000 per database).
import { missing, pgCtlBinary, startPostgres } from "@tollgate/testkit";
import { describe, expect, it } from "vitest";
import { type FuzzReport, formatReport, runFuzz } from "./fuzz/run.js";

const REQUESTS = Number(process.env.TOLLGATE_FUZZ_REQUESTS ?? 3000);
const SEED = Number(process.env.TOLLGATE_FUZZ_SEED ?? 20261129);
const TIMEOUT = 120_000 + REQUESTS * 20;

function expectClean(report: FuzzReport) {
  console.log(formatReport(report));
  if (process.env.FUZZ_DEBUG)
    console.log(
      JSON.stringify(
        Object.entries(report.msByRoute)
          .sort((a, b) => b[1] - a[1])
          .slice(0, 12),
      ),
    );
  if (report.leaks.length > 0) console.log(report.leaks.join("\n"));
  if (report.violations.length > 0) console.log(JSON.stringify(report.violations.slice(0, 10), null, 2));
  expect(report.requests).toBe(REQUESTS);
  expect(report.routesNotFuzzed).toEqual([]);
  expect(report.serverErrors).toBe(0);
  expect(report.nonProblem).toBe(0);
  expect(report.missingField).toBe(0);
  expect(report.noAnswer).toBe(0);
  expect(report.healthFailures).toBe(0);
  expect(report.readyAtEnd).toBe(true);
  expect(report.exitCode).toBe(0);
  expect(report.auditFound).toBe(report.auditExpected);
  expect(report.victimsCharged).toEqual([]);
  expect(report.victimsChecked).toBeGreaterThan(0);
  expect(report.secretsInLogs).toBe(0);
  expect(report.logLinesDropped, "every log line reached the leak check").toBe(0);
  expect(report.firstStartTokensOnStderr).toBe(true);
  expect(report.violations).toEqual([]);
}

describe("hostile-input suite (real CLI)", () => {
  it(
    `fuzz: ${REQUESTS} hostile requests on embedded PGlite: no 5xx, problem+json naming the field, nothing counted, no secret logged`,
    async () => {
      expectClean(await runFuzz({ seed: SEED, requests: REQUESTS }));
    },
    TIMEOUT,
  );

  it(
    `fuzz: ${REQUESTS} hostile requests on Postgres: no 5xx, problem+json naming the field, nothing counted, no secret logged`,
    async () => {
      if (missing(pgCtlBinary, "PostgreSQL 15 (pg_ctl, initdb)")) return;
      const pg = await startPostgres();
      try {
        expectClean(await runFuzz({ seed: SEED + 1, requests: REQUESTS, databaseUrl: pg.url }));
      } finally {
        await pg.stop();
      }
    },
    TIMEOUT,
  );
});
