import { execFileSync } from "node:child_process";
import { createServer } from "node:net";

/** Absolute path of an executable on PATH (or common sbin dirs), or undefined. */
export function findBinary(name: string, extraDirs: string[] = []): string | undefined {
  for (const dir of extraDirs) {
    try {
      execFileSync("test", ["-x", `${dir}/${name}`]);
      return `${dir}/${name}`;
    } catch {}
  }
  try {
    return execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Says loudly why a suite is skipped, or throws in CI where nothing may be skipped.
 * Returns true when the binary is missing (the caller skips).
 */
export function missing(binary: string | undefined, what: string): boolean {
  if (binary !== undefined) return false;
  const message = `SKIPPED: ${what} is not installed; install it (see .ci/run) to run these tests.`;
  if (process.env.CI === "true") throw new Error(`${message} CI must not skip.`);
  console.warn(`\n*** ${message} ***\n`);
  return true;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}
