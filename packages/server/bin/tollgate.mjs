#!/usr/bin/env node
// The `tollgate` command. Committed (unlike dist/) so that npm links it at install time, before
// the first build; it loads the built CLI, or says how to build it.
import { existsSync } from "node:fs";

const cli = new URL("../dist/cli.js", import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write("tollgate: the server is not built yet. Run `npm run build` first.\n");
  process.exit(1);
}
await import(cli.href);
