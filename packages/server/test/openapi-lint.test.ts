import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Validator } from "@seriousme/openapi-schema-validator";
import { PROBLEM_KINDS } from "@tollgate/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Json, startTestServer, type TestServer } from "./helpers.js";

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));

/** A package's CLI entry point, run with this Node (no npx, nothing fetched). */
function bin(pkg: string, name: string): string {
  const manifest = require.resolve(`${pkg}/package.json`);
  const bins = JSON.parse(readFileSync(manifest, "utf8")).bin as Record<string, string>;
  return join(dirname(manifest), bins[name] as string);
}

// Third-party linters must not phone home or check for updates from a test.
const quiet = {
  ...process.env,
  REDOCLY_TELEMETRY: "off",
  REDOCLY_SUPPRESS_UPDATE_NOTICE: "true",
  NO_UPDATE_NOTIFIER: "1",
};

let server: TestServer;
let document: Json;
/** The served documents, written to files for the linters: OpenAPI 3.1 and its 3.0 rendering. */
const files: Record<string, string> = {};
const SERVED = ["/openapi.json", "/openapi-3.0.json"];
beforeAll(async () => {
  server = await startTestServer();
  document = (await server.call("GET", "/openapi.json")).body;
  const dir = mkdtempSync(join(tmpdir(), "tollgate-lint-"));
  for (const url of SERVED) {
    files[url] = join(dir, url.slice(1));
    writeFileSync(files[url], JSON.stringify((await server.call("GET", url)).body, null, 2));
  }
});
afterAll(() => server.close());

describe.each(SERVED)("the served %s passes third-party linters", (url) => {
  it("Redocly CLI lint, recommended ruleset: 0 errors, 0 warnings", { timeout: 120_000 }, async () => {
    const { stdout } = await run(
      process.execPath,
      [
        bin("@redocly/cli", "redocly"),
        "lint",
        files[url] as string,
        "--config",
        join(here, "redocly.yaml"),
        "--format=json",
      ],
      { env: quiet, maxBuffer: 64 << 20 },
    ).catch((error: { stdout: string }) => error);
    const report = JSON.parse(stdout) as {
      totals: Record<string, number>;
      problems: { ruleId: string; message: string; location: { pointer: string }[] }[];
    };
    const found = report.problems.map((p) => `${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`);
    expect(found).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
  });

  it("Spectral, spectral:oas ruleset: no finding of any severity", { timeout: 120_000 }, async () => {
    const { stdout } = await run(
      process.execPath,
      [
        bin("@stoplight/spectral-cli", "spectral"),
        "lint",
        files[url] as string,
        "--ruleset",
        join(here, "spectral.yaml"),
        "--format",
        "json",
        "--fail-severity",
        "hint",
        "--quiet",
      ],
      { env: quiet, maxBuffer: 64 << 20 },
    ).catch((error: { stdout: string }) => error);
    const results = JSON.parse(stdout || "[]") as { code: string; message: string; path: string[] }[];
    expect(results.map((r) => `${r.code}: ${r.message} at ${r.path.join(".")}`)).toEqual([]);
  });

  it("is a valid OpenAPI document of its version (schema validator)", async () => {
    const validator = new Validator();
    const result = await validator.validate(files[url] as string);
    expect(result.errors ?? []).toEqual([]);
    expect(validator.version).toBe(url === "/openapi.json" ? "3.1" : "3.0");
  });
});

describe("the document's shape", () => {
  const operations = () =>
    Object.entries(document.paths).flatMap(([path, item]) =>
      Object.entries(item as Json).map(([method, op]) => ({
        where: `${method.toUpperCase()} ${path}`,
        op: op as Json,
      })),
    );

  it("every operation: a unique operationId, a summary, a description naming who may call it", () => {
    const ids = operations().map(({ op }) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { where, op } of operations()) {
      expect(op.operationId, where).toMatch(/^[a-z][A-Za-z]+$/);
      expect(op.summary, where).toBeTruthy();
      expect(String(op.description), where).toMatch(
        /Public: no token needed\.|Needs a(n admin-API)? token with role|Needs the dashboard session cookie/,
      );
    }
  });

  it("every error response is application/problem+json with the shared Problem schema and examples", () => {
    for (const { where, op } of operations()) {
      for (const [status, response] of Object.entries(op.responses as Record<string, Json>)) {
        // /readyz's 503 is its readiness report (the same body as its 200), read by load balancers.
        if (Number(status) < 400 || (op.operationId === "getReadiness" && status === "503")) continue;
        const content: Record<string, Json> = response.content;
        expect(Object.keys(content), `${where} ${status}`).toEqual(["application/problem+json"]);
        const media = content["application/problem+json"];
        expect(media?.schema.$ref, `${where} ${status}`).toBe("#/components/schemas/Problem");
        expect(Object.keys(media?.examples ?? {}).length, `${where} ${status}`).toBeGreaterThan(0);
      }
    }
  });

  it("public operations say security: [], the rest need the bearer scheme; servers, license and contact are set", () => {
    for (const { where, op } of operations()) {
      const description = String(op.description);
      const expected = description.includes("Public: no token needed.")
        ? []
        : description.includes("Needs the dashboard session cookie")
          ? [{ session: [] }]
          : description.includes("admin-API token")
            ? [{ bearer: [] }, { session: [] }]
            : [{ bearer: [] }];
      expect(op.security, where).toEqual(expected);
    }
    expect(document.servers).toHaveLength(1);
    expect(document.info).toMatchObject({ license: { identifier: "MIT" }, contact: { url: expect.any(String) } });
  });

  it("401 documents WWW-Authenticate and 429 documents Retry-After", () => {
    for (const { where, op } of operations()) {
      const responses: Record<string, Json> = op.responses;
      if (responses["401"]) expect(Object.keys(responses["401"].headers ?? {}), where).toContain("WWW-Authenticate");
      if (responses["429"]) expect(Object.keys(responses["429"].headers ?? {}), where).toContain("Retry-After");
    }
  });

  it("docs/api.md lists every operation by its operationId (npm run api:doc -w @tollgate/server)", () => {
    const docs = readFileSync(join(here, "../../../docs/api.md"), "utf8");
    for (const { where, op } of operations()) expect(docs, where).toContain(`| \`${op.operationId}\` | \`${where}\``);
  });

  it("GET /v1/usage says it needs a subject field", () => {
    expect(document.paths["/v1/usage"]?.get?.description).toMatch(/at least one of the query parameters `user`/);
  });
});

describe("problem types are documented where their URIs point", () => {
  it("/problems lists every kind and /problems/<name> documents each; an unknown name is a 404 problem", async () => {
    const index = await server.call("GET", "/problems");
    expect(index.status).toBe(200);
    for (const kind of PROBLEM_KINDS) {
      expect(index.body).toContain(`/problems/${kind.name}`);
      const page = await server.call("GET", `/problems/${kind.name}`);
      expect(page.status, kind.name).toBe(200);
      expect(page.headers["content-type"]).toContain("text/html");
      expect(page.body).toContain(kind.type);
    }
    const unknown = await server.call("GET", "/problems/nope");
    expect(unknown.status).toBe(404);
    expect(unknown.body.type).toBe("https://tollgate.dev/problems/not-found");
  });

  it("docs/problems.md has a section per kind with its status", () => {
    // Regenerate with: npm run build && npm run problems:doc -w @tollgate/server
    const docs = readFileSync(join(here, "../../../docs/problems.md"), "utf8");
    for (const kind of PROBLEM_KINDS) {
      expect(docs, kind.name).toContain(`## ${kind.name}`);
      expect(docs, kind.name).toContain(`\`${kind.type}\` · ${kind.status}`);
    }
  });
});
