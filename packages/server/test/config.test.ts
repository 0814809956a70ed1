import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigLoadError, loadConfig } from "@tollgate/server";
import { describe, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "tollgate-config-"));
function file(name: string, text: string) {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
function problems(run: () => unknown) {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigLoadError);
    return (error as ConfigLoadError).problems;
  }
  throw new Error("expected a ConfigLoadError");
}

describe("configuration", () => {
  it("happy: no file and no env is the built-in example with the four use cases", () => {
    const { config, source } = loadConfig({ env: {} });
    expect(source).toMatch(/built-in example/);
    expect(Object.keys(config.plans ?? {})).toEqual(["free", "basic", "pro", "enterprise", "anonymous", "signed-in"]);
    expect(Object.keys(config.categories ?? {})).toEqual([
      "llm_call",
      "collections",
      "evaluations",
      "ops_triage",
      "generate",
    ]);
    expect(config.server).toMatchObject({ port: 8080, host: "127.0.0.1" });
    expect(config.stores.database.dir).toBe("./.tollgate/pglite");
  });

  it("happy: a YAML file plus environment overrides, and flags win", () => {
    const path = file(
      "ok.yaml",
      `server:\n  port: 9000\nplans:\n  team:\n    limits:\n      - { name: minute, per: user, algorithm: fixed-window, limit: 5, window: 1m }\n`,
    );
    const { config } = loadConfig({
      file: path,
      env: {
        TOLLGATE_REDIS_URL: "redis://r:6379",
        TOLLGATE__server__bodyLimit: "131072",
        TOLLGATE_LIMIT_REQUESTS: "20",
        TOLLGATE_LIMIT_WINDOW: "3600s",
      },
      overrides: { host: "0.0.0.0" },
    });
    expect(config.server).toMatchObject({ port: 9000, host: "0.0.0.0", bodyLimit: 131072 });
    expect(config.stores.redis.url).toBe("redis://r:6379");
    expect(config.limits).toEqual([
      { name: "env", per: "user", algorithm: "sliding-window", limit: 20, window: "3600s" },
    ]);
    expect(Object.keys(config.plans ?? {})).toEqual(["team"]);
  });

  it("happy: TOLLGATE_CONFIG names the file; JSON works too", () => {
    const path = file("ok.json", JSON.stringify({ categories: { x: { limits: [] } } }));
    expect(Object.keys(loadConfig({ env: { TOLLGATE_CONFIG: path } }).config.categories ?? {})).toEqual(["x"]);
  });

  it("happy and error: ledger settings default sensibly and bad ones name their path", () => {
    expect(loadConfig({ env: {} }).config.ledger).toEqual({
      enabled: true,
      flushInterval: "1s",
      maxPending: 200_000,
      retentionDays: 400,
      hourlyRetentionDays: 90,
      restoreTimeoutMs: 2000,
    });
    const path = file("ledger.json", JSON.stringify({ ledger: { flushInterval: "0ms", maxPending: 5 } }));
    const found = problems(() => loadConfig({ file: path, env: {} }));
    expect(found.map((p) => p.path)).toEqual(expect.arrayContaining(["ledger.flushInterval", "ledger.maxPending"]));
    expect(loadConfig({ env: { TOLLGATE__ledger__flushInterval: "250ms" } }).config.ledger.flushInterval).toBe("250ms");
  });

  it("error: every problem of an invalid file is listed with its path and line", () => {
    const path = file(
      "bad.yaml",
      [
        "server:",
        "  port: 99999", // line 2
        "  colour: blue", // line 3
        "plans:",
        "  free:",
        "    limits:",
        "      - name: minute",
        "        per: key",
        "        algorithm: fixed-window",
        "        limit: -3", // line 10
        "        window: 1m",
        "      - name: month",
        "        per: planet", // line 13
        "        algorithm: quota",
        "        limit: 100",
        "        period: month",
      ].join("\n"),
    );
    const found = problems(() => loadConfig({ file: path, env: {} }));
    const byPath = Object.fromEntries(found.map((p) => [p.path, p]));
    expect(byPath["server.port"]?.line).toBe(2);
    expect(byPath["server.colour"]?.line).toBe(3);
    expect(found.every((p) => p.source === path)).toBe(true);
    // zod stops at the shape; the limits are then checked by core with the same paths.
    const limits = problems(() =>
      loadConfig({
        file: file(
          "bad2.yaml",
          `plans:\n  free:\n    limits:\n      - name: minute\n        per: key\n        algorithm: fixed-window\n        limit: -3\n        window: 1m\n      - { name: month, per: planet, algorithm: quota, limit: 100, period: month }\n`,
        ),
        env: {},
      }),
    );
    const paths = limits.map((p) => p.path);
    expect(paths).toContain("plans.free.limits[0].limit");
    expect(paths).toContain("plans.free.limits[1].per");
    expect(limits.find((p) => p.path === "plans.free.limits[0].limit")?.line).toBe(7);
    expect(limits.find((p) => p.path === "plans.free.limits[1].per")?.line).toBe(9);
    expect(String(new ConfigLoadError(limits).message)).toContain("plans.free.limits[0].limit");
  });

  it("one-pass finding: a bad port and a bad limit are reported together, not one after the other", () => {
    const found = problems(() =>
      loadConfig({
        file: file(
          "two-passes.yaml",
          "server:\n  port: 70000\nplans:\n  free:\n    limits:\n      - { name: m, per: user, algorithm: fixed-window, limit: 0, window: 1m }\n",
        ),
        env: {},
      }),
    );
    const paths = found.map((p) => p.path);
    expect(paths).toContain("server.port");
    expect(paths).toContain("plans.free.limits[0].limit");
    expect(found.find((p) => p.path === "plans.free.limits[0].limit")?.line).toBe(6);
  });

  it("error: YAML syntax errors carry their line; a missing file is named", () => {
    const syntax = problems(() => loadConfig({ file: file("syntax.yaml", "plans:\n  free: [\n"), env: {} }));
    expect(syntax[0]?.line).toBeGreaterThan(0);
    const absent = problems(() => loadConfig({ file: join(dir, "nope.yaml"), env: {} }));
    expect(absent[0]?.message).toMatch(/cannot read/);
  });

  it("error: a bad environment setting names the variable", () => {
    const found = problems(() => loadConfig({ env: { TOLLGATE_PORT: "http", TOLLGATE_DATABASE_URL: "mysql://x" } }));
    expect(found.find((p) => p.path === "server.port")?.source).toBe("TOLLGATE_PORT");
    expect(found.find((p) => p.path === "stores.database.url")?.source).toBe("TOLLGATE_DATABASE_URL");
    const limit = problems(() => loadConfig({ env: { TOLLGATE_LIMIT_REQUESTS: "-1" } }));
    expect(limit[0]?.source).toBe("TOLLGATE_LIMIT_REQUESTS");
  });
});
