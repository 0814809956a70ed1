import { startCli } from "@tollgate/testkit";
import { expect, it } from "vitest";

const SERVICE = "blocked-stdout-service-token-0123456789";
const SHUTDOWN_SECONDS = 5;

/** POST /v1/check; a decision held up by logging fails here instead of hanging the test. */
async function check(url: string, user: string) {
  const res = await fetch(`${url}/v1/check`, {
    method: "POST",
    headers: { authorization: `Bearer ${SERVICE}`, "content-type": "application/json" },
    body: JSON.stringify({ subject: { user, org: "org-blocked" }, category: "llm_call" }),
    signal: AbortSignal.timeout(30_000),
  });
  await res.arrayBuffer();
  return res.status;
}

it("finding: a blocked stdout pipe stalls pino's synchronous writes and so SIGTERM", async () => {
  // stdout is a pipe nobody reads (a stalled log shipper): it fills after ~64 KB of log lines.
  const server = await startCli({
    stdout: "unread",
    env: {
      TOLLGATE_SERVICE_TOKEN: SERVICE,
      TOLLGATE_ADMIN_TOKEN: "blocked-stdout-admin-token-0123456789",
      TOLLGATE_LOG_LEVEL: "info",
      TOLLGATE_LOG_REQUESTS: "true",
      TOLLGATE__log__bufferBytes: "65536",
      TOLLGATE__server__shutdownTimeout: String(SHUTDOWN_SECONDS),
    },
  });
  try {
    // ~2,000 request log lines (~400 KB) against a 64 KB pipe and a 64 KB buffer: decisions
    // keep being answered while lines are dropped.
    for (let batch = 0; batch < 100; batch++) {
      const statuses = await Promise.all(Array.from({ length: 10 }, (_, i) => check(server.url, `user-${batch}-${i}`)));
      expect(statuses.every((status) => status === 200)).toBe(true);
    }
    const metrics = await (await fetch(`${server.url}/metrics`, { signal: AbortSignal.timeout(30_000) })).text();
    const dropped = Number(/^tollgate_log_lines_dropped_total (\d+)$/m.exec(metrics)?.[1]);

    // SIGTERM with traffic in flight and the pipe still full: a clean exit (0), within the deadline.
    const inFlight = Array.from({ length: 20 }, (_, i) => check(server.url, `late-${i}`).catch(() => 0));
    server.child.kill("SIGTERM");
    const killedAfterDeadline = setTimeout(() => server.child.kill("SIGKILL"), (SHUTDOWN_SECONDS + 10) * 1000);
    const code = await server.exited;
    clearTimeout(killedAfterDeadline);
    await Promise.all(inFlight);
    expect(code, `exit code (null: still running ${SHUTDOWN_SECONDS + 10} s after SIGTERM, killed)`).toBe(0);
    // The lines that did not fit were dropped and counted, not waited for.
    expect(dropped).toBeGreaterThan(0);

    // What did reach the pipe is whole JSON lines.
    server.child.stdout?.resume();
    let text = "";
    for await (const chunk of server.child.stdout ?? []) text += chunk;
    const lines = text.split("\n").filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
  } finally {
    server.child.kill("SIGKILL");
  }
}, 240_000);
