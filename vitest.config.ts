import { defineConfig } from "vitest/config";

// One test run for the whole repository. Packages are imported through their built `dist`
// (`npm test` builds first), exactly as users import them.
export default defineConfig({
  test: {
    include: [
      "packages/*/src/**/*.test.ts",
      "packages/*/test/**/*.test.ts",
      "examples/*/**/*.test.ts",
      "clients/*/*.test.ts",
    ],
    exclude: ["**/node_modules/**", "**/dist/**"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: "forks",
    maxWorkers: 2,
    reporters: ["default", "./packages/testkit/src/skip-guard-reporter.ts"],
  },
});
