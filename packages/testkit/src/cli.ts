import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The built CLI of this repository (packages/server/dist/cli.js); `npm run build` makes it. */
export const tollgateCli = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "server", "dist", "cli.js");

export interface StartCliOptions {
  /** Working directory; default a fresh temporary one (the embedded database goes under it). */
  cwd?: string;
  /** Environment on top of PATH; nothing else of the caller's environment is passed. */
  env?: Record<string, string>;
  /** Arguments after `serve --port 0` (`["--config", file]`). */
  args?: string[];
  /**
   * What becomes of stdout, the JSON log stream: kept in memory (`"capture"`, the default),
   * written to a file (`{ file }`, for long runs), or never read (`"unread"`: the pipe fills
   * as it does behind a stalled log shipper).
   */
  stdout?: "capture" | "unread" | { file: string };
  /** How long to wait for the banner; default 120 s (a first PGlite start on a busy machine). */
  startTimeoutMs?: number;
}

export interface RunningCli {
  child: ChildProcess;
  /**
   * Base URL: `http://127.0.0.1:PORT` on the default host (the banner says localhost, which may
   * resolve to ::1 first); as the banner says it when a host was chosen.
   */
  url: string;
  cwd: string;
  /** First-start tokens from the banner's `export TOLLGATE_..._TOKEN=` lines, when it printed them. */
  serviceToken: string | undefined;
  adminToken: string | undefined;
  /** stdout so far: the JSON logs (empty unless stdout is "capture"). */
  logs(): string;
  /** stderr so far: the human banner and start-up failures. */
  banner(): string;
  /** Both, in arrival order. */
  output(): string;
  /** The exit code (null when killed by a signal), once the output is complete. */
  exited: Promise<number | null>;
  /** Sends `signal` (default SIGTERM) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const exportLine = (role: string) => new RegExp(`^export TOLLGATE_${role}_TOKEN=(\\S+)$`, "m");

/**
 * Starts the real `tollgate serve --port 0` (a child process of this repository's build) and
 * waits for its banner on stderr: the listening line and, on a first start, the
 * `export TOLLGATE_SERVICE_TOKEN=...` / `export TOLLGATE_ADMIN_TOKEN=...` lines, which it reads.
 * Rejects with the output so far when the server exits or does not start in time.
 */
export async function startCli(options: StartCliOptions = {}): Promise<RunningCli> {
  const cwd = options.cwd ?? mkdtempSync(join(tmpdir(), "tollgate-cli-"));
  const child = spawn(process.execPath, [tollgateCli, "serve", "--port", "0", ...(options.args ?? [])], {
    cwd,
    env: { PATH: process.env.PATH ?? "", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  let logs = "";
  let banner = "";
  const stdout = options.stdout ?? "capture";
  // `exited` resolves once the output is complete: every captured byte read, the log file
  // written; an unread stdout is not waited for (it never ends).
  let outputDone: Promise<unknown> = new Promise((resolve) => child.once("close", resolve));
  if (stdout === "capture") {
    child.stdout?.on("data", (d: Buffer) => {
      output += d;
      logs += d;
    });
  } else if (stdout === "unread") {
    child.stdout?.pause();
    outputDone = new Promise((resolve) => child.once("exit", resolve));
  } else {
    const file = createWriteStream(stdout.file);
    child.stdout?.pipe(file);
    outputDone = new Promise((resolve) => file.once("close", () => resolve(undefined)));
  }
  child.stderr?.on("data", (d: Buffer) => {
    output += d;
    banner += d;
  });
  const exitCode = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const exited = Promise.all([exitCode, outputDone]).then(([code]) => code);
  const listening = await new Promise<string>((resolve, reject) => {
    const timeoutMs = options.startTimeoutMs ?? 120_000;
    const timer = setTimeout(() => reject(new Error(`no banner within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const poll = setInterval(() => {
      const match = /listening on (http:\/\/\S+)/.exec(banner);
      // A first start's banner ends with its export lines and a blank line: wait for all of it.
      if (!match || (banner.includes("First start") && !/^export TOLLGATE_\w+_TOKEN=\S+\n\n/m.test(banner))) return;
      clearInterval(poll);
      clearTimeout(timer);
      resolve(match[1] as string);
    }, 20);
    void exited.then((code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`tollgate serve exited ${code} before listening:\n${output}`));
    });
  });
  return {
    child,
    url:
      options.env?.TOLLGATE_HOST || options.args?.includes("--host")
        ? listening
        : listening.replace("://localhost", "://127.0.0.1"),
    cwd,
    serviceToken: exportLine("SERVICE").exec(banner)?.[1],
    adminToken: exportLine("ADMIN").exec(banner)?.[1],
    logs: () => logs,
    banner: () => banner,
    output: () => output,
    exited,
    stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
