// Process and HTTP helpers for the consumer test: run a command, start a server and wait for it,
// and the assertions every framework example must pass.
import { spawn } from "node:child_process";
import { createServer } from "node:net";

export class StepError extends Error {}

/** Runs a command to completion; throws with its output when it fails. */
export function run(command, args, { cwd, env = {}, input } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.stdin.end(input ?? "");
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code === 0) return resolve({ stdout, stderr });
      const error = new StepError(
        `${command} ${args.join(" ")} (in ${cwd}) exited with ${code ?? signal}\n${tail(stdout)}\n${tail(stderr)}`,
      );
      reject(Object.assign(error, { stdout, stderr }));
    });
  });
}

const tail = (text, lines = 40) => text.trim().split("\n").slice(-lines).join("\n");

/** A port nobody listens on right now (the server under test binds it a moment later). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts a long-running process (a server) and returns a handle: `output()` for what it printed,
 * `stop()` to end it (SIGTERM, then SIGKILL) and learn how it exited.
 */
export function start(command, args, { cwd, env = {} } = {}) {
  // Its own process group, so `stop` also ends what it spawned (npx starts node, next starts workers).
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: "pipe", detached: true });
  let output = "";
  child.stdout.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr.on("data", (chunk) => {
    output += chunk;
  });
  const exited = new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
  let running = true;
  exited.then(() => {
    running = false;
  });
  return {
    output: () => output,
    running: () => running,
    exited,
    async stop() {
      if (running) {
        try {
          process.kill(-child.pid, "SIGTERM");
        } catch {}
        const timer = setTimeout(() => {
          try {
            process.kill(-child.pid, "SIGKILL");
          } catch {}
        }, 10_000);
        const result = await exited;
        clearTimeout(timer);
        return result;
      }
      return exited;
    },
  };
}

/** Polls `url` until it answers (any status) or the process exits or `timeoutMs` passes. */
export async function waitForHttp(url, server, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!server.running()) throw new StepError(`the server exited before answering ${url}\n${tail(server.output())}`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(5_000) });
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  throw new StepError(`no answer from ${url} within ${timeoutMs} ms\n${tail(server.output())}`);
}

/** Prints `label` with how long `fn` took. */
export async function timed(label, fn) {
  const began = Date.now();
  const value = await fn();
  console.log(`  ${label} (${((Date.now() - began) / 1000).toFixed(1)} s)`);
  return value;
}

export function expect(condition, message) {
  if (!condition) throw new StepError(message);
}

/**
 * The behaviour every framework example must show: a caller gets exactly the limit its
 * `RateLimit-Policy` announces, then a 429 problem with `Retry-After` and RateLimit fields; another
 * caller is not affected.
 */
export async function expectRateLimited(url, { method = "POST", userHeader = "x-user-id", quota: known } = {}) {
  const send = (user) =>
    fetch(url, {
      method,
      headers: { [userHeader]: user, "content-type": "application/json" },
      body: method === "GET" ? undefined : "{}",
    });
  const first = await send("u-1");
  const firstBody = await first.text();
  expect(first.status === 200, `first request: expected 200, got ${first.status}: ${firstBody}`);
  const policy = first.headers.get("ratelimit-policy");
  const quota = known ?? Number(/;q=(\d+)/.exec(policy ?? "")?.[1]);
  if (known === undefined) {
    expect(Number.isInteger(quota) && quota > 0, `first request: no RateLimit-Policy quota (got ${policy})`);
    expect(first.headers.get("ratelimit"), "first request: no RateLimit field");
  }
  for (let sent = 2; sent <= quota; sent++) {
    const response = await send("u-1");
    await response.arrayBuffer();
    expect(response.status === 200, `request ${sent} of ${quota}: expected 200, got ${response.status}`);
  }
  const denied = await send("u-1");
  expect(denied.status === 429, `request ${quota + 1}: expected 429, got ${denied.status}`);
  const retryAfter = denied.headers.get("retry-after");
  expect(/^[1-9]\d*$/.test(retryAfter ?? ""), `429 without a positive integer Retry-After (got ${retryAfter})`);
  expect(denied.headers.get("ratelimit"), "429 without a RateLimit field");
  expect(
    denied.headers.get("content-type")?.startsWith("application/problem+json"),
    `429 content-type is ${denied.headers.get("content-type")}`,
  );
  const problem = await denied.json();
  expect(
    problem.status === 429 && typeof problem.type === "string",
    `429 body is not a problem: ${JSON.stringify(problem)}`,
  );
  const other = await send("u-2");
  await other.arrayBuffer();
  expect(other.status === 200, `another user: expected 200, got ${other.status}`);
  return { quota, retryAfter: Number(retryAfter) };
}
