// The generator's web page: static files, with @tollgate/browser served from the package itself
// (an import map points the page at it) for the usage counter and the quota message.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import express, { type Express as Application } from "express";

const here = dirname(fileURLToPath(import.meta.url));

export function servePage(app: Application) {
  const browserDist = dirname(createRequire(import.meta.url).resolve("@tollgate/browser"));
  app.use("/vendor/tollgate-browser", express.static(browserDist));
  app.use(express.static(join(here, "..", "public")));
}
