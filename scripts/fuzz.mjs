// `npm run fuzz`: the hostile-input suite in its full form, against the real CLI on embedded
// PGlite and on a throwaway Postgres (started by the testkit). The same suite runs a short form
// (3,000 requests per database) inside `npm test`.
//
//   npm run fuzz                                  # 100,000 requests per database, default seed
//   npm run fuzz -- --requests 20000 --seed 7 --db pglite
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "100000" },
    seed: { type: "string", default: "20261129" },
    db: { type: "string", default: "both" },
  },
});
const filter = { pglite: "PGlite", postgres: "Postgres", both: "" }[values.db];
if (filter === undefined) {
  process.stderr.write(`--db: pglite, postgres or both (got "${values.db}")\n`);
  process.exit(2);
}
const result = spawnSync(
  "npx",
  ["vitest", "run", "packages/server/test/fuzz.test.ts", ...(filter ? ["-t", filter] : [])],
  {
    stdio: "inherit",
    env: { ...process.env, TOLLGATE_FUZZ_REQUESTS: values.requests, TOLLGATE_FUZZ_SEED: values.seed },
  },
);
process.exit(result.status ?? 1);
