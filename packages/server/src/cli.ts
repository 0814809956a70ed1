#!/usr/bin/env node
import { parseArgs } from "node:util";
import { createServer } from "./app.js";
import { ConfigLoadError, loadConfig } from "./config/load.js";
import { LogOutput } from "./log-output.js";

/** At most this long, within the shutdown deadline, for stdout's reader to take the last log lines. */
const LOG_FLUSH_MS = 2000;

const USAGE = `Usage: tollgate serve [--config FILE] [--port 8080] [--host 127.0.0.1]

With no config file and no environment, serves the built-in example (the four use cases) on
memory counters and an embedded database in ./.tollgate/. Settings: docs/configuration.md.`;

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

/** `tollgate serve`: load and validate the configuration, start, and shut down gracefully on SIGINT/SIGTERM. */
async function main(argv: string[]) {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>;
  const options = {
    config: { type: "string", short: "c" },
    port: { type: "string", short: "p" },
    host: { type: "string" },
    help: { type: "boolean", short: "h" },
  } as const;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true });
  } catch (error) {
    fail(`${(error as Error).message}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (positionals[0] !== "serve" || positionals.length > 1) fail(USAGE);
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      fail(`--port: must be a port number (got "${values.port}")`);
  }

  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig({
      ...(values.config ? { file: values.config } : {}),
      overrides: { ...(port !== undefined ? { port } : {}), ...(values.host ? { host: values.host } : {}) },
    });
  } catch (error) {
    if (error instanceof ConfigLoadError) fail(error.message);
    throw error;
  }
  const { config, source } = loaded;
  // The CLI owns stdout's log buffer so that it can flush it, within a deadline, before exiting.
  const logOutput = new LogOutput(process.stdout, config.log.bufferBytes);
  const server = await createServer({ config, logDestination: logOutput });
  server.log.info({ source }, `configuration: ${source}`);
  const address = await server.app.listen({ port: config.server.port, host: config.server.host });
  const shown = address.replace("://[::1]", "://localhost").replace("://127.0.0.1", "://localhost");

  // The banner goes to stderr: stdout carries the JSON logs, which are shipped and kept, and
  // first-start tokens must appear exactly once, where only the person starting the server sees them.
  const lines = [
    `\nTollgate is listening on ${shown}`,
    `  dashboard: ${shown}/  (sign in with an admin token; API docs at ${shown}/docs)`,
    `  catalog and usage ledger: ${server.ctx.db.kind === "pglite" ? `embedded database in ${config.stores.database.dir}` : "Postgres"}`,
    `  counters: ${server.ctx.store.name === "memory" ? "in memory (minute/hour windows start afresh on restart; calendar quotas are rebuilt from the ledger)" : server.ctx.store.name}`,
  ];
  const { adminToken, serviceToken } = server.firstStart;
  if (adminToken || serviceToken) {
    lines.push(
      "",
      "  First start: these tokens are shown ONCE and stored only as hashes. Save them now;",
      "  paste these lines into the shell you call Tollgate from:",
      "",
    );
    if (serviceToken) lines.push(`export TOLLGATE_SERVICE_TOKEN=${serviceToken}`);
    if (adminToken) lines.push(`export TOLLGATE_ADMIN_TOKEN=${adminToken}`);
  }
  process.stderr.write(`${lines.join("\n")}\n\n`);

  // Nothing here waits on stdout's reader except the bounded flush at the very end: log lines
  // go through LogOutput, which buffers and then drops rather than blocks, so a stopped log
  // reader can delay exit by LOG_FLUSH_MS at most and never past server.shutdownTimeout.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    const deadline = Date.now() + config.server.shutdownTimeout * 1000;
    const timer = setTimeout(() => {
      server.log.error("shutdown timed out; exiting");
      process.exit(1);
    }, config.server.shutdownTimeout * 1000);
    timer.unref();
    server.log.info({ signal }, "shutting down: draining requests, closing stores");
    const exit = async (code: number) => {
      const flushed = await logOutput.flush(Math.max(0, Math.min(LOG_FLUSH_MS, deadline - Date.now())));
      if (!flushed)
        process.stderr.write(
          `tollgate: exiting with ${logOutput.pendingBytes} bytes of log lines unwritten (stdout not read)\n`,
        );
      process.exit(code);
    };
    server.close().then(
      () => {
        server.log.info({ droppedLogLines: logOutput.dropped }, "stopped");
        return exit(0);
      },
      (error: unknown) => {
        server.log.error({ err: error }, "error during shutdown");
        return exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`tollgate: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
