import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCli } from "@tollgate/testkit";
import { Random } from "./random.js";
import { type FuzzRequest, FuzzState, type Json, nextRequest, ROUTES } from "./requests.js";

/** Statuses whose problem document must name the field at fault. */
const FIELD_REQUIRED = new Set([400, 405, 413, 414, 415, 431]);

export interface FuzzOptions {
  seed: number;
  requests: number;
  /** Requests in flight at once. */
  concurrency?: number;
  /** `postgres://...`, or undefined for embedded PGlite in a temp directory. */
  databaseUrl?: string;
  /** Health probe every this many requests. */
  healthEvery?: number;
}

export interface Violation {
  what: string;
  kind: string;
  route: string;
  method: string;
  path: string;
  status?: number;
  detail?: string;
}

export interface FuzzReport {
  seed: number;
  database: string;
  requests: number;
  durationMs: number;
  byStatus: Record<string, number>;
  byKind: Record<string, number>;
  /** Answers >= 500 (the 501 of an unbuilt route is counted apart). */
  serverErrors: number;
  unimplemented501: number;
  /** Error answers that were not application/problem+json with matching status. */
  nonProblem: number;
  /** 400/405/413/414/415/431 problems without `field`. */
  missingField: number;
  /** Well-formed HTTP requests that got no answer (timeouts, resets). */
  noAnswer: number;
  /** Raw (malformed) requests the server closed without an answer. */
  rawClosedWithoutAnswer: number;
  healthProbes: number;
  healthFailures: number;
  readyAtEnd: boolean;
  exitCode: number | null;
  auditExpected: number;
  auditFound: number;
  /** Accepted admin writes by route, and audit entries by action: where they disagree, why. */
  acceptedWrites: Record<string, number>;
  auditByAction: Record<string, number>;
  victimsChecked: number;
  victimsCharged: string[];
  secretsIssued: number;
  secretsInLogs: number;
  /**
   * Log lines the server dropped because this runner read its stdout too slowly (from its
   * "stopped" line; -1 when that line is missing): lines not in the log were not checked for leaks.
   */
  logLinesDropped: number;
  /** Where each leaked secret was found (the line, with the secret masked). */
  leaks: string[];
  firstStartTokensOnStderr: boolean;
  routesNotFuzzed: string[];
  violations: Violation[];
  /** Total milliseconds spent per route (where a run's time goes). */
  msByRoute: Record<string, number>;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function sendHttp(agent: Agent, port: number, req: FuzzRequest): Promise<Answer> {
  // Node's client frames a DELETE/GET body only with an explicit Content-Length: without it the
  // bytes would follow the request unframed and read as the next request on the connection.
  const headers =
    req.body === undefined ? req.headers : { ...req.headers, "content-length": String(Buffer.byteLength(req.body)) };
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      { host: "127.0.0.1", port, method: req.method, path: req.path, headers, agent, timeout: 15_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    outgoing.on("timeout", () => outgoing.destroy(new Error("timeout")));
    outgoing.on("error", reject);
    if (req.body !== undefined) outgoing.end(req.body);
    else outgoing.end();
  });
}

function sendRaw(port: number, text: string): Promise<Answer | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.setTimeout(15_000, () => socket.destroy());
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", () => {});
    socket.on("close", () => {
      const all = Buffer.concat(chunks).toString("utf8");
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(all);
      if (!match) return resolve(undefined);
      const split = all.indexOf("\r\n\r\n");
      const headers: Record<string, string> = {};
      for (const line of all.slice(0, split).split("\r\n").slice(1)) {
        const colon = line.indexOf(":");
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      // Only the first answer: a pipelined second request (bytes after a bad body) answers too.
      const rest = split === -1 ? "" : all.slice(split + 4);
      const length = Number(headers["content-length"]);
      resolve({ status: Number(match[1]), headers, body: Number.isFinite(length) ? rest.slice(0, length) : rest });
    });
    // Written, not half-closed: a client FIN makes Node close the connection before an answer
    // still in the works (an admin write waiting on the database) is written, and that write,
    // done but unseen, would look unaudited. The server closes (Connection: close) or we time out.
    socket.write(text);
  });
}

/** Every 16-character window of every secret, to find a secret (or a long piece of one) in logs. */
function leakFinder(secrets: Iterable<string>) {
  const windows = new Map<string, string>();
  for (const secret of secrets) {
    for (let i = 0; i + 16 <= secret.length; i++) windows.set(secret.slice(i, i + 16), secret);
  }
  return (text: string): Set<string> => {
    const found = new Set<string>();
    for (const word of text.split(/[^A-Za-z0-9_-]+/)) {
      if (word.length < 16) continue;
      for (let i = 0; i + 16 <= word.length; i++) {
        const hit = windows.get(word.slice(i, i + 16));
        if (hit) found.add(hit);
      }
    }
    return found;
  };
}

/**
 * Runs the hostile-input suite against the real CLI (`tollgate serve`, a child process) on a
 * fresh database: `requests` generated requests from `seed`, then the end-of-run invariants.
 * Returns the figures; the caller asserts them.
 */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const started = Date.now();
  const cwd = mkdtempSync(join(tmpdir(), "tollgate-fuzz-"));
  const logFile = join(cwd, "server.log");
  const env: Record<string, string> = options.databaseUrl
    ? { TOLLGATE_DATABASE_URL: options.databaseUrl }
    : { TOLLGATE_DATA_DIR: join(cwd, "pglite") };
  const server = await startCli({ cwd, env: { ...env, TOLLGATE_LOG_LEVEL: "info" }, stdout: { file: logFile } });
  const port = Number(new URL(server.url).port);
  const { adminToken: admin, serviceToken: service } = server;
  if (!admin || !service) throw new Error(`no first-start tokens on stderr:\n${server.banner()}`);
  const state = new FuzzState(admin, service);
  const random = new Random(options.seed);
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency ?? 8 });

  const report: FuzzReport = {
    seed: options.seed,
    database: options.databaseUrl ? "postgres" : "pglite",
    requests: 0,
    durationMs: 0,
    byStatus: {},
    byKind: {},
    serverErrors: 0,
    unimplemented501: 0,
    nonProblem: 0,
    missingField: 0,
    noAnswer: 0,
    rawClosedWithoutAnswer: 0,
    healthProbes: 0,
    healthFailures: 0,
    readyAtEnd: false,
    exitCode: null,
    auditExpected: 2, // the first start's two bootstrap tokens
    auditFound: 0,
    acceptedWrites: {},
    auditByAction: {},
    victimsChecked: 0,
    victimsCharged: [],
    secretsIssued: 0,
    secretsInLogs: 0,
    logLinesDropped: 0,
    leaks: [],
    firstStartTokensOnStderr: false,
    routesNotFuzzed: [],
    violations: [],
    msByRoute: {},
  };
  const violate = (what: string, req: FuzzRequest, answer?: Answer) => {
    if (report.violations.length >= 50) return;
    report.violations.push({
      what,
      kind: req.kind,
      route: req.route,
      method: req.method,
      path: req.path.slice(0, 200),
      ...(answer ? { status: answer.status, detail: answer.body.slice(0, 300) } : {}),
    });
  };
  const call = async (method: string, path: string, token?: string) => {
    const answer = await sendHttp(agent, port, {
      kind: "probe",
      route: path,
      method,
      path,
      headers: token ? { authorization: `Bearer ${token}` } : {},
      audited: false,
    });
    return { status: answer.status, json: (answer.body ? JSON.parse(answer.body) : undefined) as Json };
  };

  try {
    // Every documented route must be in the fuzz table: a new route is fuzzed or this fails.
    const doc = (await call("GET", "/openapi.json")).json as { paths: Record<string, Record<string, unknown>> };
    const fuzzed = new Set(ROUTES.map((r) => `${r.method} ${r.url}`));
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const method of Object.keys(operations)) {
        const route = `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ":$1")}`;
        if (!fuzzed.has(route)) report.routesNotFuzzed.push(route);
      }
    }

    const check = (req: FuzzRequest, answer: Answer) => {
      report.byStatus[answer.status] = (report.byStatus[answer.status] ?? 0) + 1;
      if (answer.status >= 500) {
        if (answer.status === 501 && req.unimplemented) report.unimplemented501++;
        else {
          report.serverErrors++;
          violate("5xx", req, answer);
        }
      }
      if (answer.status >= 400 && req.method !== "HEAD") {
        const type = String(answer.headers["content-type"] ?? "");
        let problem: Json;
        try {
          problem = JSON.parse(answer.body);
        } catch {}
        const ok =
          type.startsWith("application/problem+json") &&
          problem !== null &&
          typeof problem === "object" &&
          problem.status === answer.status &&
          typeof problem.title === "string" &&
          typeof problem.detail === "string" &&
          typeof problem.type === "string";
        if (!ok) {
          report.nonProblem++;
          violate("not problem+json", req, answer);
        } else if (FIELD_REQUIRED.has(answer.status) && typeof problem.field !== "string") {
          report.missingField++;
          violate("problem without field", req, answer);
        }
      }
      if (answer.status >= 200 && answer.status < 300) {
        if (req.victim) state.touched.add(req.victim);
        if (req.audited) {
          report.auditExpected++;
          report.acceptedWrites[req.route] = (report.acceptedWrites[req.route] ?? 0) + 1;
        }
        if (req.learn) {
          let body: Json;
          try {
            body = answer.body ? JSON.parse(answer.body) : undefined;
          } catch {}
          req.learn(body);
        }
      }
    };

    let sent = 0;
    const worker = async () => {
      while (sent < options.requests) {
        sent++;
        const req = nextRequest(random, state);
        report.byKind[req.kind] = (report.byKind[req.kind] ?? 0) + 1;
        const t0 = performance.now();
        if (req.raw !== undefined) {
          const answer = await sendRaw(port, req.raw);
          if (answer) check(req, answer);
          else report.rawClosedWithoutAnswer++;
        } else {
          try {
            check(req, await sendHttp(agent, port, req));
          } catch (error) {
            report.noAnswer++;
            violate(`no answer: ${(error as Error).message}`, req);
          }
        }
        report.msByRoute[req.route] = (report.msByRoute[req.route] ?? 0) + performance.now() - t0;
        report.requests++;
        if (report.requests % (options.healthEvery ?? 500) === 0) {
          report.healthProbes++;
          const health = await call("GET", "/healthz").catch(() => ({ status: 0 }));
          if (health.status !== 200) report.healthFailures++;
        }
      }
    };
    await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker));

    report.readyAtEnd = (await call("GET", "/readyz")).status === 200;
    // Every accepted admin write, and nothing else, left one audit entry.
    let before: number | undefined;
    for (;;) {
      const page = await call("GET", `/v1/admin/audit?limit=500${before ? `&before=${before}` : ""}`, admin);
      const entries = page.json.entries as { id: number; action: string }[];
      report.auditFound += entries.length;
      for (const entry of entries) report.auditByAction[entry.action] = (report.auditByAction[entry.action] ?? 0) + 1;
      if (entries.length < 500) break;
      before = (entries[entries.length - 1] as { id: number }).id;
    }
    // Victims only ever rode on hostile requests: any still untouched must show no usage at all.
    const categories = ((await call("GET", "/v1/admin/categories", admin)).json.categories as { name: string }[]).map(
      (c) => c.name,
    );
    const plans = ((await call("GET", "/v1/admin/plans", admin)).json.plans as { name: string }[]).map((p) => p.name);
    // Up to 40 untouched victims, spread over the whole run.
    const untouched = state.victims.filter((v) => !state.touched.has(v));
    const sample = untouched.filter((_, i) => i % Math.max(1, Math.floor(untouched.length / 40)) === 0).slice(0, 40);
    for (const victim of sample) {
      report.victimsChecked++;
      const views = [
        ...categories.map((c) => `category=${encodeURIComponent(c)}`),
        ...plans.map((p) => `plan=${encodeURIComponent(p)}`),
      ];
      for (const view of views) {
        const peek = await call("GET", `/v1/admin/usage/subject?subject=user:${victim}&${view}`, admin);
        if ((peek.json.limits as { used: number }[]).some((l) => l.used !== 0)) {
          report.victimsCharged.push(`${victim} (${view})`);
          break;
        }
      }
    }
  } finally {
    agent.destroy();
    report.exitCode = await server.stop();
  }

  // No secret issued during the run in the JSON logs (stdout); on stderr, only the two
  // first-start tokens, each exactly once, as export lines.
  report.secretsIssued = state.secrets.size;
  const logs = readFileSync(logFile, "utf8");
  const inLogs = leakFinder(state.secrets)(logs);
  const stderr = server.banner();
  const onStderr = leakFinder(state.secrets)(stderr);
  const firstStart = [admin, service];
  report.firstStartTokensOnStderr = firstStart.every((t) => stderr.split(t).length === 2);
  for (const secret of onStderr) if (!firstStart.includes(secret)) inLogs.add(secret);
  report.secretsInLogs = inLogs.size;
  for (const secret of inLogs) {
    const text = logs.includes(secret.slice(8, 24)) ? logs : stderr;
    const at = text.indexOf(secret.slice(8, 24));
    const start = text.lastIndexOf("\n", at) + 1;
    const end = text.indexOf("\n", at);
    report.leaks.push(
      text
        .slice(start, end === -1 ? undefined : end)
        .split(secret.slice(8, 24))
        .join("<SECRET>")
        .slice(0, 600),
    );
  }
  report.logLinesDropped = Number(/"droppedLogLines":(\d+).*"msg":"stopped"/.exec(logs)?.[1] ?? -1);
  if (logs.length < 1000) report.secretsInLogs = -1; // no logs captured: the check would prove nothing
  report.durationMs = Date.now() - started;
  rmSync(cwd, { recursive: true, force: true });
  return report;
}

/** The figures in one line per fact, for the report a person reads. */
export function formatReport(report: FuzzReport): string {
  const rate = Math.round(report.requests / (report.durationMs / 1000));
  return [
    `hostile-input suite: seed ${report.seed}, ${report.database}, ${report.requests} requests in ${(report.durationMs / 1000).toFixed(1)} s (${rate}/s)`,
    `  statuses: ${Object.entries(report.byStatus)
      .sort()
      .map(([s, n]) => `${s}=${n}`)
      .join(" ")}`,
    `  kinds: ${Object.entries(report.byKind)
      .sort()
      .map(([k, n]) => `${k}=${n}`)
      .join(" ")}`,
    `  5xx: ${report.serverErrors} (501 of unbuilt usage/history: ${report.unimplemented501}); not problem+json: ${report.nonProblem}; problem without field: ${report.missingField}; no answer: ${report.noAnswer}; raw requests closed without answer: ${report.rawClosedWithoutAnswer}`,
    `  health: ${report.healthProbes} probes, ${report.healthFailures} failed; ready at end: ${report.readyAtEnd}; exit code ${report.exitCode}`,
    `  audit entries: ${report.auditFound} found, ${report.auditExpected} expected${report.auditFound === report.auditExpected ? "" : ` (accepted writes ${JSON.stringify(report.acceptedWrites)}, entries ${JSON.stringify(report.auditByAction)})`}; untouched victims checked: ${report.victimsChecked}, charged: ${report.victimsCharged.length}`,
    `  secrets issued: ${report.secretsIssued}, found in logs: ${report.secretsInLogs} (log lines dropped: ${report.logLinesDropped}); first-start tokens once on stderr: ${report.firstStartTokensOnStderr}`,
    `  routes not fuzzed: ${report.routesNotFuzzed.length === 0 ? "none" : report.routesNotFuzzed.join(", ")}`,
  ].join("\n");
}
