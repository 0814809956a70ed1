import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import fastifyStatic from "@fastify/static";
import type { App } from "./types.js";

/** Where the built dashboard lives: `@tollgate/dashboard`'s `build/` (made by `npm run build`). */
export function dashboardDir(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const dir = join(dirname(require.resolve("@tollgate/dashboard/package.json")), "build");
    return existsSync(join(dir, "index.html")) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The dashboard's pages may run only this server's own scripts and styles and talk only to this
 * server; no framing (clickjacking), no referrer leaks.
 */
const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tollgate</title></head>
<body style="font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem">
<h1>Tollgate</h1>
<p>The server is running, but the dashboard was not built. Run <code>npm run build</code> in the repository.</p>
<p><a href="/docs">API documentation</a> · <a href="/openapi.json">/openapi.json</a></p>
</body></html>`;

/**
 * Serves the dashboard's static files at `/` from the same process as the API: `index.html`
 * revalidated on every load, the content-hashed assets under `/assets/` cached for a year.
 */
export async function dashboardRoutes(app: App, dir: string | undefined = dashboardDir()) {
  if (!dir) {
    app.get("/", { schema: { hide: true } }, async (_request, reply) =>
      reply.type("text/html; charset=utf-8").send(NOT_BUILT),
    );
    return;
  }
  await app.register(fastifyStatic, {
    root: dir,
    prefix: "/",
    wildcard: false,
    index: ["index.html"],
    decorateReply: false,
    preCompressed: true,
    setHeaders(reply, path) {
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
      reply.header(
        "cache-control",
        path.includes(`${join(dir, "assets")}`) ? "public, max-age=31536000, immutable" : "no-cache",
      );
    },
  });
}
