import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

/** Debian's chromium (installed by .ci/run), or undefined. Tests never download a browser. */
export const chromiumBinary: string | undefined = existsSync("/usr/bin/chromium") ? "/usr/bin/chromium" : undefined;

/**
 * Launches headless chromium through playwright-core. Check `missing(chromiumBinary, "chromium")`
 * first: it prints a loud SKIPPED, or throws under CI=true.
 */
export function launchChromium(): Promise<Browser> {
  if (!chromiumBinary) throw new Error("chromium is not installed (/usr/bin/chromium)");
  return chromium.launch({
    executablePath: chromiumBinary,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}
