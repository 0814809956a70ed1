// What each consumer project shape runs after its install.
import { copyFileSync, cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, expectRateLimited, freePort, run, StepError, start, timed, waitForHttp } from "./lib.mjs";

const fixtures = fileURLToPath(new URL("fixtures/", import.meta.url));
const tsc = (dir, ...args) => run(join(dir, "node_modules/.bin/tsc"), args, { cwd: dir });

/**
 * Starts a server on a free port and proves the README's 429 on each of `paths`
 * (`{ path, quota }`: a known quota for routes whose allowed answers carry no RateLimit fields).
 */
async function serveAndLimit(dir, command, args, paths) {
  const port = await freePort();
  const server = start(command, args, { cwd: dir, env: { PORT: String(port), NODE_ENV: "production" } });
  try {
    await waitForHttp(`http://127.0.0.1:${port}/`, server, 120_000);
    for (const { path, quota: known } of paths) {
      const { quota, retryAfter } = await expectRateLimited(`http://127.0.0.1:${port}${path}`, { quota: known });
      console.log(`  ${args.join(" ")}: ${path}: ${quota} allowed, then 429 with Retry-After: ${retryAfter}`);
    }
  } catch (error) {
    if (error instanceof StepError) error.message += `\n--- server output ---\n${server.output().slice(-3000)}`;
    throw error;
  } finally {
    await server.stop();
  }
}

/** The README's examples: type-checked (node16 and bundler resolution), compiled, started, limited. */
export async function checkFramework(project, dir) {
  await timed("README examples type-check with bundler resolution", () => tsc(dir, "-p", "tsconfig.bundler.json"));
  await timed("README examples type-check and compile with node16 resolution", () => tsc(dir, "-p", "tsconfig.json"));
  for (const example of project.examples) {
    await serveAndLimit(dir, process.execPath, [`dist/${example}`], [{ path: "/api/ai" }]);
  }
}

/** `next build` (which type-checks the route's exports) and `next start` with the README's route handler. */
export async function checkNext(project, dir) {
  const next = join(dir, "node_modules/.bin/next");
  const env = { NEXT_TELEMETRY_DISABLED: "1" };
  const { version } = JSON.parse(readFileSync(join(dir, "node_modules/next/package.json"), "utf8"));
  await timed(`next ${version}: next build (type-checks the route's exports)`, () =>
    run(next, ["build"], { cwd: dir, env }),
  );
  // `next start` listens on $PORT.
  const paths = [{ path: "/api/ai" }, ...(project.middleware ? [{ path: "/api/search", quota: 10 }] : [])];
  await serveAndLimit(dir, next, ["start", "-H", "127.0.0.1"], paths);
}

/**
 * Every subpath of every package loads with `import` and with `require` (the same exports), the
 * ESM and CommonJS apps run, and TypeScript checks the published declarations with node16,
 * bundler, and CommonJS (nodenext) resolution.
 */
export async function checkModules(_project, dir, { packages }) {
  const specs = [];
  for (const { name } of packages) {
    const manifest = JSON.parse(readFileSync(join(dir, "node_modules", name, "package.json"), "utf8"));
    for (const subpath of Object.keys(manifest.exports ?? { ".": null })) {
      if (!subpath.includes("*") && !subpath.endsWith(".json")) specs.push(join(name, subpath));
    }
  }
  const list = JSON.stringify(specs);
  writeFileSync(
    join(dir, "imports.mjs"),
    `const out = {};\nfor (const spec of ${list}) out[spec] = Object.keys(await import(spec)).sort();\nconsole.log(JSON.stringify(out));\n`,
  );
  writeFileSync(
    join(dir, "imports.cjs"),
    `const out = {};\nfor (const spec of ${list}) out[spec] = Object.keys(require(spec)).sort();\nconsole.log(JSON.stringify(out));\n`,
  );
  const esm = JSON.parse((await run(process.execPath, ["imports.mjs"], { cwd: dir })).stdout);
  const cjs = JSON.parse((await run(process.execPath, ["imports.cjs"], { cwd: dir })).stdout);
  for (const spec of specs) {
    expect(esm[spec].length > 0, `import("${spec}") has no exports`);
    expect(
      JSON.stringify(esm[spec]) ===
        JSON.stringify(cjs[spec].filter((name) => name !== "__esModule" && name !== "module.exports")),
      `require("${spec}") exports differ from import: ${cjs[spec]} vs ${esm[spec]}`,
    );
  }
  console.log(`  ${specs.length} entry points load with import and require: ${specs.join(", ")}`);

  copyFileSync(join(fixtures, "modules/app.mjs"), join(dir, "app.mjs"));
  copyFileSync(join(fixtures, "modules/app.cjs"), join(dir, "app.cjs"));
  const { stdout: esmOut } = await run(process.execPath, ["app.mjs"], { cwd: dir });
  const { stdout: cjsOut } = await run(process.execPath, ["app.cjs"], { cwd: dir });
  expect(esmOut.includes("esm ok") && cjsOut.includes("cjs ok"), "the ESM or CommonJS app did not finish");
  console.log("  ESM app (import) and CommonJS app (require) run");

  cpSync(join(fixtures, "modules/src"), join(dir, "src"), { recursive: true });
  cpSync(join(fixtures, "modules/src-cjs"), join(dir, "src-cjs"), { recursive: true });
  // Every entry point's declarations, not only those the hand-written file uses.
  writeFileSync(
    join(dir, "src/entry-points.ts"),
    specs.map((spec, i) => `import * as entry${i} from "${spec}";\n`).join("") +
      `export const entries = [${specs.map((_, i) => `entry${i}`).join(", ")}];\n`,
  );
  const base = { target: "ES2022", strict: true, skipLibCheck: false, noEmit: true, types: ["node"] };
  // node16 checks every declaration file in full (skipLibCheck off); the other two resolutions
  // check the same imports resolve and type the apps, and skip re-checking the libraries.
  const configs = {
    "tsconfig.node16.json": { compilerOptions: { ...base, module: "node16" }, include: ["src"] },
    "tsconfig.bundler.json": {
      compilerOptions: { ...base, skipLibCheck: true, module: "preserve", moduleResolution: "bundler" },
      include: ["src"],
    },
    "tsconfig.cjs.json": { compilerOptions: { ...base, skipLibCheck: true, module: "nodenext" }, include: ["src-cjs"] },
  };
  for (const [file, config] of Object.entries(configs)) {
    writeFileSync(join(dir, file), JSON.stringify(config, null, 2));
    await timed(`TypeScript ${file}: every entry point type-checks`, () => tsc(dir, "-p", file));
  }
}

/**
 * `@tollgate/core/testing` with the test-runner versions of its peer range: the conformance suite
 * passes the memory store and fails a store that never charges (so it cannot pass vacuously).
 */
export async function checkConformance(_project, dir) {
  const vitest = join(dir, "node_modules/.bin/vitest");
  for (const file of ["memory.test.mjs", "broken.test.mjs"])
    copyFileSync(join(fixtures, "conformance", file), join(dir, file));
  const versions = ["vitest", "fast-check"].map(
    (name) => `${name} ${JSON.parse(readFileSync(join(dir, "node_modules", name, "package.json"), "utf8")).version}`,
  );
  await timed(`conformance suite passes the memory store (${versions.join(", ")})`, () =>
    run(vitest, ["run", "memory.test.mjs"], { cwd: dir }),
  );
  const broken = await run(vitest, ["run", "broken.test.mjs"], { cwd: dir }).then(
    () => undefined,
    (error) => error,
  );
  expect(broken, "the conformance suite passed a store that never charges");
  // Failed on its answers (a fast-check counterexample), not on loading.
  expect(
    /Property failed/.test(`${broken.stdout}${broken.stderr}`),
    `the broken store failed otherwise:\n${broken.message}`,
  );
  console.log("  conformance suite fails a store that never charges");
}

/** `npx tollgate serve` from the installed tarball: /healthz, one decision, a clean SIGTERM. */
export async function checkServer(_project, dir) {
  const { stdout: help } = await run("npx", ["--no-install", "tollgate", "--help"], { cwd: dir });
  expect(help.includes("tollgate serve"), `tollgate --help printed: ${help}`);
  const port = await freePort();
  const server = start("npx", ["--no-install", "tollgate", "serve", "--port", String(port), "--host", "127.0.0.1"], {
    cwd: dir,
    env: { NODE_ENV: "production" },
  });
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitForHttp(`${base}/healthz`, server, 120_000);
    const health = await fetch(`${base}/healthz`);
    expect(health.status === 200, `/healthz answered ${health.status}: ${await health.text()}`);
    const token = await waitFor(() => /TOLLGATE_SERVICE_TOKEN=(\S+)/.exec(server.output())?.[1], server);
    const response = await fetch(`${base}/v1/check`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ subject: { user: "u-42" }, category: "ops_triage" }),
    });
    const body = await response.json();
    expect(
      response.status === 200 && body.allowed === true,
      `/v1/check answered ${response.status}: ${JSON.stringify(body)}`,
    );
    expect(body.headers?.RateLimit, `/v1/check has no RateLimit header value: ${JSON.stringify(body)}`);
    console.log(`  npx tollgate serve: /healthz 200, /v1/check allowed (RateLimit: ${body.headers.RateLimit})`);
  } catch (error) {
    if (error instanceof StepError) error.message += `\n--- server output ---\n${server.output().slice(-3000)}`;
    throw error;
  } finally {
    const { code, signal } = await server.stop();
    expect(code === 0 || signal === "SIGTERM", `tollgate serve exited with ${code ?? signal} on SIGTERM`);
  }
}

async function waitFor(read, server, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value) return value;
    if (Date.now() > deadline) throw new StepError(`timed out\n${server.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
