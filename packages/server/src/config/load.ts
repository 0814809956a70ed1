import { readFileSync } from "node:fs";
import { parseAlertsConfig, unknownAlertIssues } from "@tollgate/alerts";
import { ConfigError, compileConfig, type Issue } from "@tollgate/core";
import { type Document, LineCounter, parseDocument } from "yaml";
import { exampleConfig } from "./example.js";
import { configSchema, type ServerConfig } from "./schema.js";

/** One problem in the configuration, located by its path and, for a file, its line. */
export interface ConfigProblem {
  path: string;
  message: string;
  /** Where it came from: the file name, or the environment variable. */
  source?: string;
  line?: number;
}

/** The configuration is invalid; start-up stops and prints every problem. */
export class ConfigLoadError extends Error {
  override name = "ConfigLoadError";
  constructor(readonly problems: ConfigProblem[]) {
    super(
      `Invalid configuration:\n${problems
        .map(
          (p) =>
            `  - ${p.path || "(root)"}: ${p.message}${p.source ? ` [${p.source}${p.line ? `:${p.line}` : ""}]` : ""}`,
        )
        .join("\n")}`,
    );
  }
}

export interface LoadOptions {
  /** Config file (YAML or JSON); default `TOLLGATE_CONFIG`, else the built-in example. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Command-line flags, which win over everything. */
  overrides?: { port?: number; host?: string };
}

export interface LoadedConfig {
  config: ServerConfig;
  /** `built-in example` or the file path, for the start-up log. */
  source: string;
}

/** `plans.free.limits[0].window` -> ["plans", "free", "limits", 0, "window"]. */
export function splitPath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const part of path.split(".")) {
    const match = /^([^[]*)((?:\[\d+\])*)$/.exec(part);
    if (!match) {
      out.push(part);
      continue;
    }
    if (match[1]) out.push(match[1]);
    for (const index of (match[2] ?? "").matchAll(/\[(\d+)\]/g)) out.push(Number(index[1]));
  }
  return out;
}

export function joinPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, part) => (typeof part === "number" ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part)),
    "",
  );
}

/** Line of the deepest node the path reaches in the YAML document (a missing field points at its parent). */
function lineOf(doc: Document, lines: LineCounter, path: (string | number)[]): number | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = doc.getIn(path.slice(0, depth), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === "object" && node.range) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

function setIn(target: Record<string, unknown>, path: string[], value: unknown) {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== "object" || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

/** A value from the environment: JSON when it parses (numbers, booleans, lists), else the string. */
function envValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/**
 * Environment overrides. Named variables for the common settings, `TOLLGATE__a__b=value` for
 * any setting of the file (`TOLLGATE__server__bodyLimit=131072`), and a two-variable shorthand
 * for a single limit (`TOLLGATE_LIMIT_REQUESTS=20 TOLLGATE_LIMIT_WINDOW=1h`).
 */
export function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, origin: Map<string, string>) {
  const named: [string, string[], (v: string) => unknown][] = [
    ["TOLLGATE_PORT", ["server", "port"], envValue],
    ["TOLLGATE_HOST", ["server", "host"], String],
    ["TOLLGATE_REDIS_URL", ["stores", "redis", "url"], String],
    ["TOLLGATE_REDIS_PREFIX", ["stores", "redis", "prefix"], String],
    ["TOLLGATE_DATABASE_URL", ["stores", "database", "url"], String],
    ["TOLLGATE_DATA_DIR", ["stores", "database", "dir"], String],
    ["TOLLGATE_SERVICE_TOKEN", ["auth", "serviceToken"], String],
    ["TOLLGATE_ADMIN_TOKEN", ["auth", "adminToken"], String],
    ["TOLLGATE_DECISION_SECRET", ["decisions", "secret"], String],
    ["TOLLGATE_LOG_LEVEL", ["log", "level"], String],
    ["TOLLGATE_LOG_REQUESTS", ["log", "requests"], envValue],
  ];
  for (const [name, path, parse] of named) {
    const value = env[name];
    if (value === undefined || value === "") continue;
    setIn(raw, path, parse(value));
    origin.set(path.join("."), name);
  }
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("TOLLGATE__") || value === undefined) continue;
    const path = name.slice("TOLLGATE__".length).split("__").filter(Boolean);
    if (path.length === 0) continue;
    setIn(raw, path, envValue(value));
    origin.set(path.join("."), name);
  }
  const requests = env.TOLLGATE_LIMIT_REQUESTS;
  if (requests !== undefined && requests !== "") {
    const limit = {
      name: "env",
      per: env.TOLLGATE_LIMIT_PER ?? "user",
      algorithm: env.TOLLGATE_LIMIT_ALGORITHM ?? "sliding-window",
      limit: envValue(requests),
      window: env.TOLLGATE_LIMIT_WINDOW ?? "1h",
      ...(env.TOLLGATE_LIMIT_CATEGORY ? { categories: [env.TOLLGATE_LIMIT_CATEGORY] } : {}),
    };
    const existing = Array.isArray(raw.limits) ? raw.limits : [];
    raw.limits = [...existing, limit];
    origin.set(`limits[${existing.length}]`, "TOLLGATE_LIMIT_REQUESTS");
  }
}

/** Parses a YAML or JSON file (JSON is YAML), keeping node positions for error lines. */
function readFile(file: string): { raw: Record<string, unknown>; doc: Document; lines: LineCounter } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigLoadError([
      { path: "", message: `cannot read ${file}: ${(error as Error).message}`, source: file },
    ]);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  if (doc.errors.length > 0) {
    throw new ConfigLoadError(
      doc.errors.map((e) => ({
        path: "",
        message: e.message.split("\n")[0] ?? e.message,
        source: file,
        line: e.linePos?.[0]?.line,
      })),
    );
  }
  const raw = doc.toJS() ?? {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigLoadError([
      { path: "", message: "the file must hold a mapping (plans:, categories:, ...)", source: file },
    ]);
  }
  return { raw, doc, lines };
}

/**
 * Loads, merges and validates the configuration: file (or built-in example), then environment,
 * then flags. Throws ConfigLoadError listing every problem with its path and line.
 *
 * @example
 * const { config } = loadConfig({ file: "tollgate.yaml", env: process.env });
 */
export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const file = options.file ?? (env.TOLLGATE_CONFIG || undefined);
  let raw: Record<string, unknown>;
  let located: { doc: Document; lines: LineCounter } | undefined;
  if (file) {
    const read = readFile(file);
    raw = read.raw;
    located = read;
  } else {
    raw = structuredClone(exampleConfig) as Record<string, unknown>;
  }
  const origin = new Map<string, string>();
  applyEnv(raw, env, origin);
  if (options.overrides?.port !== undefined) setIn(raw, ["server", "port"], options.overrides.port);
  if (options.overrides?.host !== undefined) setIn(raw, ["server", "host"], options.overrides.host);

  const locate = (path: string): ConfigProblem => {
    const problem: ConfigProblem = { path, message: "" };
    for (const [prefix, name] of origin) {
      if (path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`)) {
        problem.source = name;
        return problem;
      }
    }
    if (file) problem.source = file;
    if (located) {
      const line = lineOf(located.doc, located.lines, splitPath(path));
      if (line !== undefined) problem.line = line;
    }
    return problem;
  };

  // Every problem in one pass: the file's shape (zod) and the limits' rules (core's compiler)
  // are both checked before reporting, so fixing `port` does not reveal a bad `limit` next.
  const problems: ConfigProblem[] = [];
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const keys = issue.code === "unrecognized_keys" ? issue.keys : [];
      const path = joinPath(keys.length === 1 ? [...issue.path, keys[0] as string] : issue.path);
      problems.push({ ...locate(path), message: issue.message });
    }
  }
  const source = parsed.success ? parsed.data : (raw as Partial<ServerConfig>);
  const limits = { limits: source.limits, plans: source.plans, categories: source.categories };
  const issues: Issue[] = [];
  try {
    compileConfig(limits as never);
  } catch (error) {
    if (error instanceof ConfigError) issues.push(...error.issues);
    else if (parsed.success) throw error;
  }
  try {
    const alerts = parseAlertsConfig(source.alerts ?? {});
    issues.push(...unknownAlertIssues(limits as never, new Set(Object.keys(alerts))));
  } catch (error) {
    if (error instanceof ConfigError) issues.push(...error.issues);
    else if (parsed.success) throw error;
  }
  // With a malformed file these checks may trip on shapes zod already reported; only their own
  // findings, on paths zod did not already flag, are added.
  for (const issue of issues) {
    const known = problems.some(
      (p) => issue.path === p.path || issue.path.startsWith(`${p.path}.`) || issue.path.startsWith(`${p.path}[`),
    );
    if (!known) problems.push({ ...locate(issue.path), message: issue.message });
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigLoadError(problems);
  const config = parsed.data;
  return { config, source: file ?? "built-in example (the four use cases)" };
}
