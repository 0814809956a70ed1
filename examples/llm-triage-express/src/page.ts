// The ops console's web page for the "Ask AI" button: static files plus `GET /api/me`, so the page
// can hide the button from roles that may not use it. The page reads denials with
// @tollgate/browser, served from the package itself (an import map points the page at it).
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import express, { type Express as Application, type RequestHandler } from "express";

const here = dirname(fileURLToPath(import.meta.url));

export interface PageOptions {
  /** Sets `req.user` or answers 401, as the API does. */
  authenticate: RequestHandler;
  /** Whether a user may press "Ask AI" (the endpoint enforces the same rule with 403). */
  canAsk: (user: { id: string; role: string }) => boolean;
}

export function servePage(app: Application, options: PageOptions) {
  const browserDist = dirname(createRequire(import.meta.url).resolve("@tollgate/browser"));
  app.use("/vendor/tollgate-browser", express.static(browserDist));
  app.use(express.static(join(here, "..", "public")));
  app.get("/api/me", options.authenticate, (req, res) => {
    const user = req.user as { id: string; role: string };
    res.json({ id: user.id, role: user.role, canAskAi: options.canAsk(user) });
  });
}
