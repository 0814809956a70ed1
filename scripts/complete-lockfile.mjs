// Adds to package-lock.json the platform-specific optional packages that a registry mirror
// without them leaves out (npm install skips an optional package it cannot resolve, but `npm ci`
// then refuses the lock as out of sync). The entries are what npm writes against the full
// registry: platform-gated, so `npm ci` never downloads them on other platforms.
// Run after `npm install` changes the lock: node scripts/complete-lockfile.mjs
import { readFileSync, writeFileSync } from "node:fs";

const PLATFORMS = {
  "android-arm64": { os: ["android"], cpu: ["arm64"] },
  "android-x64": { os: ["android"], cpu: ["x64"] },
  "darwin-arm64": { os: ["darwin"], cpu: ["arm64"] },
  "darwin-x64": { os: ["darwin"], cpu: ["x64"] },
  "linux-arm64": { os: ["linux"], cpu: ["arm64"], libc: ["glibc"] },
  "linux-arm64-musl": { os: ["linux"], cpu: ["arm64"], libc: ["musl"] },
  "linux-x64": { os: ["linux"], cpu: ["x64"], libc: ["glibc"] },
  "linux-x64-musl": { os: ["linux"], cpu: ["x64"], libc: ["musl"] },
  "win32-arm64": { os: ["win32"], cpu: ["arm64"] },
  "win32-x64": { os: ["win32"], cpu: ["x64"] },
};

const path = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(path, "utf8"));
let added = 0;
for (const [location, entry] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const match = /-(android|darwin|linux|win32)-(arm64|x64)(-musl)?$/.exec(name);
    const key = `${location ? `${location}/` : ""}node_modules/${name}`.replace(
      /^node_modules\/(.*\/node_modules\/)/,
      "$1",
    );
    const hoisted = `node_modules/${name}`;
    if (!match || lock.packages[key] || lock.packages[hoisted]) continue;
    const platform = PLATFORMS[`${match[1]}-${match[2]}${match[3] ?? ""}`];
    if (!platform) continue;
    lock.packages[hoisted] = {
      version,
      ...platform,
      ...(entry.dev ? { dev: true } : {}),
      ...(entry.license ? { license: entry.license } : {}),
      optional: true,
      ...(entry.engines ? { engines: entry.engines } : {}),
    };
    added++;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : 1)),
);
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lockfile: added ${added} platform-specific optional entries`);
