import type { Reporter, TestModule } from "vitest/node";

/**
 * Prints a plain "N passed, N failed, N skipped" closing line, and in CI (CI=true) fails the run
 * when anything was skipped: a test that needs Redis or Postgres must run there, never be skipped.
 */
export default class SkipGuardReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") failed++;
        else skipped++;
      }
    }
    console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
    if (process.env.CI === "true" && skipped > 0) {
      console.error(`CI forbids skipped tests: ${skipped} skipped. Install what they need in .ci/run.`);
      process.exitCode = 1;
    }
  }
}
