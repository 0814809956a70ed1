import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tollgateCli as CLI, missing, pgCtlBinary, startCli, startPostgres } from "@tollgate/testkit";
import { describe, expect, it } from "vitest";
import type { Json } from "./helpers.js";

/** Starts `tollgate serve` in `cwd` and waits for its banner. */
const serve = (cwd: string, env: Record<string, string> = {}) => startCli({ cwd, env });

async function post(url: string, tokenValue: string, body: unknown) {
  const res = await fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${tokenValue}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

describe("tollgate serve (real CLI, child process)", () => {
  it("happy: the embedded default starts, prints tokens once, decides, and shuts down cleanly", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "tollgate-cli-"));
    const first = await serve(cwd);
    const admin = first.adminToken;
    const service = first.serviceToken;
    expect(admin).toBeDefined();
    expect(service).toBeDefined();
    // first-start tokens are printed once, to stderr, as export lines; never into the JSON log stream
    expect(first.banner().split(admin as string)).toHaveLength(2);
    expect(first.logs()).not.toContain(admin);
    expect(first.logs()).not.toContain(service);
    // ledger finding: the banner says where usage lives and what a restart keeps
    expect(first.banner()).toMatch(/counters: in memory \(.*calendar quotas are rebuilt from the ledger\)/);
    expect(first.output()).toContain("database migrations applied: 0001_catalog");
    expect((await fetch(`${first.url}/readyz`)).status).toBe(200);
    const decision = await post(`${first.url}/v1/check`, service as string, {
      subject: { user: "cli-1" },
      category: "ops_triage",
    });
    expect(decision.body).toMatchObject({ allowed: true });
    const key = await post(`${first.url}/v1/admin/keys`, admin as string, { owner: "org:cli", plan: "free" });
    expect(key.status).toBe(201);
    expect(await first.stop()).toBe(0);
    expect(first.output()).toContain("shutting down");

    const second = await serve(cwd);
    expect(second.output()).not.toMatch(/TOLLGATE_ADMIN_TOKEN=/);
    expect(second.output()).toContain("database schema up to date");
    const again = await post(`${second.url}/v1/check`, service as string, { subject: { apiKey: key.body.secret } });
    expect(again.body).toMatchObject({ allowed: true, plan: "free" });
    expect(await second.stop()).toBe(0);
  }, 180_000);

  it("happy: a clean restart of the embedded default continues the month's usage (the newcomer scenario)", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "tollgate-cli-"));
    const first = await serve(cwd);
    const admin = first.adminToken as string;
    const service = first.serviceToken as string;
    const key = await post(`${first.url}/v1/admin/keys`, admin, { owner: "org:newcomer", plan: "free" });
    for (let i = 0; i < 10; i++) {
      expect(
        (await post(`${first.url}/v1/check`, service, { subject: { apiKey: key.body.secret } })).body.allowed,
      ).toBe(true);
    }
    expect(await first.stop()).toBe(0);
    const second = await serve(cwd);
    const usage = await fetch(`${second.url}/v1/usage`, {
      headers: { authorization: `Bearer ${service}`, "x-api-key": key.body.secret },
    });
    const month = ((await usage.json()) as Json).limits.find((l: Json) => l.name === "month");
    expect(month).toMatchObject({ used: 10, limit: 1000, remaining: 990 });
    expect(await second.stop()).toBe(0);
  }, 180_000);

  it("error: an invalid config file stops start-up listing the problem and its line", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "tollgate-cli-"));
    const child = spawn(process.execPath, [CLI, "serve"], {
      cwd,
      env: { PATH: process.env.PATH ?? "", TOLLGATE_PORT: "not-a-port" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stderr?.on("data", (d: Json) => {
      output += d;
    });
    const code = await new Promise((resolve) => child.once("exit", resolve));
    expect(code).toBe(2);
    expect(output).toContain("server.port");
    expect(output).toContain("TOLLGATE_PORT");
  });

  it("happy: against a real Postgres (TOLLGATE_DATABASE_URL)", async () => {
    if (missing(pgCtlBinary, "PostgreSQL 15 (pg_ctl, initdb)")) return;
    const pg = await startPostgres();
    try {
      const cwd = mkdtempSync(join(tmpdir(), "tollgate-cli-"));
      const running = await serve(cwd, {
        TOLLGATE_DATABASE_URL: pg.url,
        TOLLGATE_ADMIN_TOKEN: "pg-admin-token-0123456789",
        TOLLGATE_SERVICE_TOKEN: "pg-service-token-0123456789",
      });
      expect(running.output()).toContain('"database":"postgres"');
      expect(running.output()).not.toMatch(/TOLLGATE_ADMIN_TOKEN=/);
      const ready = (await (await fetch(`${running.url}/readyz`)).json()) as Json;
      expect(ready.checks["database:postgres"]).toBe("ok");
      const key = await post(`${running.url}/v1/admin/keys`, "pg-admin-token-0123456789", {
        owner: "org:pg",
        plan: "basic",
      });
      expect(key.status).toBe(201);
      const decided = await post(`${running.url}/v1/check`, "pg-service-token-0123456789", {
        subject: { apiKey: key.body.secret },
      });
      expect(decided.body).toMatchObject({ allowed: true, plan: "basic" });
      expect(await running.stop()).toBe(0);
    } finally {
      await pg.stop();
    }
  });
});
