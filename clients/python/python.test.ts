import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { missing } from "@tollgate/testkit";
import { describe, expect, it } from "vitest";

// The Python client and the Python examples are tested with pytest, on Debian's interpreter and
// packages (python3-httpx, -fastapi, -uvicorn, -pytest, -redis): this file runs that session
// inside `npm test`. pytest starts its own `tollgate serve` (this repository's built CLI, on this
// Node) and redis-server on random loopback ports.
const PYTHON = "/usr/bin/python3";
const MODULES = ["httpx", "fastapi", "uvicorn", "pytest", "redis"];
const here = dirname(fileURLToPath(import.meta.url));

/** The interpreter, when it exists and imports every module the tests need. */
function python(): string | undefined {
  if (!existsSync(PYTHON)) return undefined;
  const probe = spawnSync(PYTHON, ["-c", `import ${MODULES.join(", ")}`], { encoding: "utf8" });
  return probe.status === 0 ? PYTHON : undefined;
}

function pytest(interpreter: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(interpreter, [join(here, "run_tests.py"), "-q", "-s", "-p", "no:cacheprovider"], {
      cwd: here,
      env: {
        PATH: process.env.PATH ?? "",
        TOLLGATE_NODE: process.execPath,
        PYTHONDONTWRITEBYTECODE: "1",
        ...(process.env.CI ? { CI: process.env.CI } : {}),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk;
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk;
    });
    child.once("exit", (code) => resolve({ code, output }));
  });
}

describe("Python client (pytest against a real tollgate serve)", () => {
  it("happy: every pytest test of clients/python and examples/python-* passes", { timeout: 900_000 }, async () => {
    const interpreter = python();
    if (
      missing(
        interpreter,
        `${PYTHON} with ${MODULES.join(", ")} (apt-get install python3-${MODULES.join(" python3-")})`,
      )
    )
      return;
    const { code, output } = await pytest(interpreter as string);
    // pytest's own report, ending with its summary line ("N passed in S s").
    console.log(output);
    expect(output).toMatch(/\d+ passed/);
    if (process.env.CI === "true") expect(output, "CI must not skip Python tests").not.toMatch(/\d+ skipped/);
    expect(code, output.slice(-4000)).toBe(0);
  });
});
