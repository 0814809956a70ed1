// `npm start`: build (incremental, a no-op when up to date), then run `tollgate serve` in the
// foreground. npm runs a script through a shell that does not pass signals on, so a plain
// `npm run build && node cli.js` left the server running on its port when npm was killed. This
// launcher forwards SIGINT, SIGTERM and SIGHUP to the server and exits the way the server did.
import { spawn, spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const build = spawnSync(process.execPath, [tsc, "-b"], { cwd: root, stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);

const cli = fileURLToPath(new URL("../packages/server/dist/cli.js", import.meta.url));
const server = spawn(process.execPath, [cli, "serve", ...process.argv.slice(2)], { stdio: "inherit" });
const forwarded = ["SIGINT", "SIGTERM", "SIGHUP"];
for (const signal of forwarded) process.on(signal, () => server.kill(signal));
server.on("exit", (code, signal) => {
  if (signal) {
    // Die of the same signal, so whoever started npm sees how the server ended.
    for (const name of forwarded) process.removeAllListeners(name);
    process.kill(process.pid, signal);
  }
  process.exit(code ?? 1);
});
